"""Security suite 0 (AES-GCM-128) for ciphered APDUs: decrypt (and, for the imitator's tests,
encrypt) general-glo-cipher and glo-* APDUs with the user's keys. Needs the optional
``cryptography`` package (``pip install 'GenerateMeterData[dlms]'``)."""
from __future__ import annotations

from typing import Optional

from .acse import decode_apdu
from .pdu import Apdu
from .xdlms import CipheredApdu
from .errors import DLMSCipherError

TAG_LENGTH = 12


def _backend():
    try:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    except ImportError:
        raise DLMSCipherError("decrypting needs the cryptography package: pip install 'GenerateMeterData[dlms]'") from None
    return Cipher, algorithms, modes, InvalidTag


def _check_key(key: bytes, what: str) -> None:
    if len(key) != 16:
        raise DLMSCipherError(f"the {what} has {len(key)} bytes; security suite 0 needs 16 (32 hex digits)")


def decrypt_bytes(security_control: int, system_title: bytes, invocation_counter: int, ciphertext: bytes,
                  encryption_key: bytes, authentication_key: Optional[bytes] = None) -> bytes:
    """The plaintext of one ciphered content (ciphertext with the 12-byte tag when authenticated)."""
    Cipher, algorithms, modes, InvalidTag = _backend()
    if security_control & 0x0F != 0:
        raise DLMSCipherError(f"security suite {security_control & 0x0F} is not supported (only 0, AES-GCM-128)")
    if security_control & 0x80:
        raise DLMSCipherError("compressed ciphered APDUs are not supported")
    _check_key(encryption_key, "encryption key")
    if len(system_title) != 8:
        raise DLMSCipherError(f"system title of {len(system_title)} bytes, expected 8")
    iv = bytes(system_title) + invocation_counter.to_bytes(4, "big")
    authenticated, encrypted = bool(security_control & 0x10), bool(security_control & 0x20)
    if not encrypted:
        raise DLMSCipherError("authentication-only APDUs carry plaintext; nothing to decrypt")
    if authenticated:
        if authentication_key is None:
            raise DLMSCipherError("the APDU is authenticated: give the authentication key too")
        _check_key(authentication_key, "authentication key")
        if len(ciphertext) < TAG_LENGTH:
            raise DLMSCipherError("ciphered content shorter than its authentication tag")
        body, tag = ciphertext[:-TAG_LENGTH], ciphertext[-TAG_LENGTH:]
        decryptor = Cipher(algorithms.AES(bytes(encryption_key)), modes.GCM(iv, tag, min_tag_length=TAG_LENGTH)).decryptor()
        decryptor.authenticate_additional_data(bytes((security_control,)) + bytes(authentication_key))
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag:
            raise DLMSCipherError("authentication tag does not match: wrong key, system title or a damaged telegram") from None
    # encryption only: GCM's counter mode without the tag
    decryptor = Cipher(algorithms.AES(bytes(encryption_key)), modes.CTR(iv + b"\x00\x00\x00\x02")).decryptor()
    return decryptor.update(bytes(ciphertext)) + decryptor.finalize()


def encrypt_bytes(security_control: int, system_title: bytes, invocation_counter: int, plaintext: bytes,
                  encryption_key: bytes, authentication_key: Optional[bytes] = None) -> bytes:
    """Ciphertext (and tag when authenticated) of ``plaintext``: the inverse of ``decrypt_bytes``."""
    Cipher, algorithms, modes, _ = _backend()
    _check_key(encryption_key, "encryption key")
    iv = bytes(system_title) + invocation_counter.to_bytes(4, "big")
    if security_control & 0x10:
        _check_key(authentication_key or b"", "authentication key")
        encryptor = Cipher(algorithms.AES(bytes(encryption_key)), modes.GCM(iv)).encryptor()
        encryptor.authenticate_additional_data(bytes((security_control,)) + bytes(authentication_key or b""))
        body = encryptor.update(bytes(plaintext)) + encryptor.finalize()
        return body + encryptor.tag[:TAG_LENGTH]
    encryptor = Cipher(algorithms.AES(bytes(encryption_key)), modes.CTR(iv + b"\x00\x00\x00\x02")).encryptor()
    return encryptor.update(bytes(plaintext)) + encryptor.finalize()


def decrypt(apdu: CipheredApdu, encryption_key: bytes, authentication_key: Optional[bytes] = None,
            system_title: Optional[bytes] = None) -> Apdu:
    """The plain APDU inside a ciphered one (the system title from the APDU, else given)."""
    title = apdu.system_title or system_title
    if not title:
        raise DLMSCipherError(f"{apdu.name} carries no system title: give the sender's")
    plaintext = decrypt_bytes(apdu.security_control, title, apdu.invocation_counter, apdu.ciphertext,
                              encryption_key, authentication_key)
    return decode_apdu(plaintext)


def encrypt_general_glo(plain: Apdu, system_title: bytes, invocation_counter: int, encryption_key: bytes,
                        authentication_key: Optional[bytes] = None, security_control: int = 0x30) -> CipheredApdu:
    """A general-glo-cipher APDU carrying ``plain``."""
    ciphertext = encrypt_bytes(security_control, system_title, invocation_counter, plain.encode(),
                               encryption_key, authentication_key)
    return CipheredApdu(0xDB, security_control, invocation_counter, ciphertext, bytes(system_title))
