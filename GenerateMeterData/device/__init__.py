"""What the device serves: RTU-327 and the JSON data API, their stand-ins, and the check of a load against them."""
