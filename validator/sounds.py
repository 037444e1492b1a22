"""The two sounds of the validator, made as WAV bytes when first asked for.

A rider may not look at the screen: accepted is two short rising beeps, refused is three
low buzzes, different in pitch, rhythm and length so they are told apart without looking
and by people who can't tell pitches apart. Made here rather than shipped as files: no
recording to license, and the tests can measure what they contain.
"""

from __future__ import annotations

import io
import math
import struct
import wave
from functools import cache

RATE = 22050
# (frequency in Hz or 0 for silence, seconds)
ACCEPT = ((1318.5, 0.09), (0, 0.04), (1760.0, 0.14))  # E6 then A6: "ding-ding", rising
REFUSE = ((330.0, 0.16), (0, 0.06), (330.0, 0.16), (0, 0.06), (330.0, 0.16))  # low, three times
SOUNDS = {"accept": ACCEPT, "refuse": REFUSE}


@cache
def wav(name: str) -> bytes:
    """The sound ``name`` ("accept" or "refuse") as a 16-bit mono WAV file."""
    samples = bytearray()
    for frequency, seconds in SOUNDS[name]:
        count = int(RATE * seconds)
        for i in range(count):
            if not frequency:
                value = 0.0
            else:
                # A short fade in and out: no click at either end of a tone.
                envelope = min(1.0, i / (0.005 * RATE), (count - i) / (0.005 * RATE))
                phase = 2 * math.pi * frequency * i / RATE
                tone = math.sin(phase)
                if name == "refuse":  # a buzz: odd harmonics make it harsh, not musical
                    tone = 0.7 * tone + 0.3 * math.sin(3 * phase)
                value = 0.6 * envelope * tone
            samples += struct.pack("<h", int(value * 32767))
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(RATE)
        file.writeframes(bytes(samples))
    return out.getvalue()
