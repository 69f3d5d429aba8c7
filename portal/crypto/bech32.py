"""Bech32 (BIP 173) as age uses it: plain Bech32, not Bech32m, and no 90-character limit.

age's post-quantum recipients are 1,959 characters long, so the usual length limit is dropped;
everything else (character set, checksum, one case throughout) is as BIP 173 specifies.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CHARSET_INDEX = {character: value for value, character in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_CHECKSUM_LENGTH = 6


class Bech32Error(ValueError):
    """The text is not valid Bech32."""


def encode(hrp: str, data: bytes) -> str:
    """Encode `data` under the human-readable part `hrp`, in lower case."""
    hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    checksum = _create_checksum(hrp, values)
    return hrp + "1" + "".join(CHARSET[value] for value in values + checksum)


def decode(text: str) -> tuple[str, bytes]:
    """Return (human-readable part as written, data). Mixed case is refused, as BIP 173 says."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    separator = text.rfind("1")
    if separator < 1 or separator + _CHECKSUM_LENGTH + 1 > len(text):
        raise Bech32Error("separator misplaced")
    hrp, payload = text[:separator], text[separator + 1 :].lower()
    if any(not 33 <= ord(character) <= 126 for character in hrp):
        raise Bech32Error("invalid character in human-readable part")
    try:
        values = [_CHARSET_INDEX[character] for character in payload]
    except KeyError:
        raise Bech32Error("invalid character in data part") from None
    if _polymod(_expand_hrp(hrp.lower()) + values) != 1:
        raise Bech32Error("checksum mismatch")
    return hrp, bytes(_convert_bits(values[:-_CHECKSUM_LENGTH], 5, 8, pad=False))


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                checksum ^= generator
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, values: list[int]) -> list[int]:
    polymod = _polymod(_expand_hrp(hrp) + values + [0] * _CHECKSUM_LENGTH) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(_CHECKSUM_LENGTH)]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    accumulator = 0
    bits = 0
    result = []
    max_value = (1 << to_bits) - 1
    for value in data:
        accumulator = (accumulator << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            result.append((accumulator >> bits) & max_value)
    if pad:
        if bits:
            result.append((accumulator << (to_bits - bits)) & max_value)
    elif bits >= from_bits or (accumulator << (to_bits - bits)) & max_value:
        raise Bech32Error("invalid padding")
    return result
