-- Reconstructed DDL of meter.db on the UM-40 SMART (see README "Schema assumptions").
-- Column names are certain; declared types of MeterData and the *Values tables, the keys,
-- the UNIQUE index and the cascades are assumptions (schema reference Q1). Replace this file
-- with a real device's `.schema` dump when one is available; tests check that the column
-- lists in layout.py match whatever this file declares.

CREATE TABLE MeterTypes (
    Id      INTEGER PRIMARY KEY,
    Type    TEXT NOT NULL,
    Class   TEXT
);

CREATE TABLE MeterIfaces (
    Id      INTEGER PRIMARY KEY,
    Name    TEXT NOT NULL
);

CREATE TABLE ArchTypes (
    Id          INTEGER PRIMARY KEY,
    DataType    TEXT,
    MeterType   TEXT,
    Name        TEXT NOT NULL
);

CREATE TABLE ArchInfo (
    RecordTypeId    INTEGER PRIMARY KEY REFERENCES ArchTypes(Id),
    Records         INTEGER NOT NULL
);

CREATE TABLE MeterTable (
    DeviceIdx       INTEGER PRIMARY KEY,
    MeterId         INTEGER NOT NULL UNIQUE,
    ParentId        INTEGER,
    TypeId          INTEGER NOT NULL,
    Address         TEXT NOT NULL,
    ReadPassword    TEXT,
    WritePassword   TEXT,
    InterfaceId     INTEGER NOT NULL,
    InterfaceConfig TEXT,
    RTUObjType      INTEGER,
    RTUFeederNum    INTEGER,
    RTUObjNum       INTEGER
);

CREATE TABLE ElectricConfig (
    DeviceIdx           INTEGER NOT NULL REFERENCES MeterTable(DeviceIdx) ON DELETE CASCADE,
    Timestamp           BIGINT NOT NULL,
    Serial              TEXT NOT NULL,
    Model               TEXT,
    IntervalPowerArrays INTEGER,
    DST                 BOOLEAN,
    Clock               BOOLEAN,
    Tariff              BOOLEAN,
    Reactive            BOOLEAN,
    ActiveReverse       BOOLEAN,
    ReactiveReverse     BOOLEAN,
    CurrentCoeff        DOUBLE,
    VoltageCoeff        DOUBLE,
    MeterConst          DOUBLE
);

CREATE TABLE PulseConfig (
    DeviceIdx   INTEGER NOT NULL REFERENCES MeterTable(DeviceIdx) ON DELETE CASCADE,
    Timestamp   BIGINT NOT NULL,
    Serial      TEXT NOT NULL,
    Model       TEXT,
    Channels    INTEGER NOT NULL,
    DST         BOOLEAN
);

CREATE TABLE DigitalConfig (
    DeviceIdx   INTEGER NOT NULL REFERENCES MeterTable(DeviceIdx) ON DELETE CASCADE,
    Timestamp   BIGINT NOT NULL,
    Serial      TEXT NOT NULL,
    Model       TEXT,
    ChannelsIn  INTEGER NOT NULL,
    ChannelsOut INTEGER NOT NULL,
    DST         BOOLEAN
);

CREATE TABLE MeterData (
    Id              INTEGER PRIMARY KEY,
    DeviceIdx       INTEGER NOT NULL REFERENCES MeterTable(DeviceIdx) ON DELETE CASCADE,
    RecordTypeId    INTEGER NOT NULL,
    Timestamp       INTEGER NOT NULL,
    Valid           INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX MeterDataRecord ON MeterData (DeviceIdx, RecordTypeId, Timestamp);

CREATE TABLE ElectricEnergyValues (
    Id      INTEGER NOT NULL REFERENCES MeterData(Id) ON DELETE CASCADE,
    Tariff  INTEGER NOT NULL,
    Ap      REAL,
    Am      REAL,
    Rp      REAL,
    Rm      REAL,
    PRIMARY KEY (Id, Tariff)
);

CREATE TABLE ElectricQualityValues (
    Id      INTEGER NOT NULL REFERENCES MeterData(Id) ON DELETE CASCADE,
    Phase   TEXT NOT NULL,
    U       REAL,
    I       REAL,
    P       REAL,
    Q       REAL,
    S       REAL,
    KP      REAL,
    Angle   REAL,
    F       REAL,
    PRIMARY KEY (Id, Phase)
);

CREATE TABLE ElectricPowerValues (
    Id          INTEGER PRIMARY KEY REFERENCES MeterData(Id) ON DELETE CASCADE,
    Period      INTEGER,
    Pp          REAL,
    Pm          REAL,
    Qp          REAL,
    Qm          REAL,
    Partial     INTEGER,
    Overflow    INTEGER,
    Season      INTEGER
);

CREATE TABLE PulseValues (
    Id INTEGER PRIMARY KEY REFERENCES MeterData(Id) ON DELETE CASCADE,
    Channels INTEGER,
    Chnl1 REAL, Chnl2 REAL, Chnl3 REAL, Chnl4 REAL, Chnl5 REAL, Chnl6 REAL, Chnl7 REAL, Chnl8 REAL,
    Chnl9 REAL, Chnl10 REAL, Chnl11 REAL, Chnl12 REAL, Chnl13 REAL, Chnl14 REAL, Chnl15 REAL, Chnl16 REAL,
    Chnl17 REAL, Chnl18 REAL, Chnl19 REAL, Chnl20 REAL, Chnl21 REAL, Chnl22 REAL, Chnl23 REAL, Chnl24 REAL,
    Chnl25 REAL, Chnl26 REAL, Chnl27 REAL, Chnl28 REAL, Chnl29 REAL, Chnl30 REAL, Chnl31 REAL, Chnl32 REAL
);

CREATE TABLE DigitalValues (
    Id INTEGER PRIMARY KEY REFERENCES MeterData(Id) ON DELETE CASCADE,
    Channels INTEGER,
    Chnl1 INTEGER, Chnl2 INTEGER, Chnl3 INTEGER, Chnl4 INTEGER, Chnl5 INTEGER, Chnl6 INTEGER, Chnl7 INTEGER, Chnl8 INTEGER,
    Chnl9 INTEGER, Chnl10 INTEGER, Chnl11 INTEGER, Chnl12 INTEGER, Chnl13 INTEGER, Chnl14 INTEGER, Chnl15 INTEGER, Chnl16 INTEGER,
    Chnl17 INTEGER, Chnl18 INTEGER, Chnl19 INTEGER, Chnl20 INTEGER, Chnl21 INTEGER, Chnl22 INTEGER, Chnl23 INTEGER, Chnl24 INTEGER,
    Chnl25 INTEGER, Chnl26 INTEGER, Chnl27 INTEGER, Chnl28 INTEGER, Chnl29 INTEGER, Chnl30 INTEGER, Chnl31 INTEGER, Chnl32 INTEGER
);

CREATE TABLE JournalValues (
    Id      INTEGER PRIMARY KEY REFERENCES MeterData(Id) ON DELETE CASCADE,
    Event   INTEGER,
    EventId INTEGER
);
