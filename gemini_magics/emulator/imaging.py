"""Stdlib-only pictures for the offline responder: PNG coding, scenes drawn from a prompt, edits.

Pixels are drawn a horizontal span at a time with bytes multiplication and slice assignment,
and edits remap whole colour channels with ``bytes.translate``: there is no Python loop per
pixel anywhere, so a 4096-pixel picture renders and encodes in a fraction of a second.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import random
import re
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_SIZES = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}
DEFAULT_IMAGE_SIZE = "1K"
DEFAULT_ASPECT_RATIO = "1:1"
_ZLIB_LEVEL = 3

RGB = tuple[int, int, int]


def output_size(aspect_ratio: str | None = None, image_size: str | None = None) -> tuple[int, int]:
    """(width, height) for a response format: the longest side is the image size."""
    longest = IMAGE_SIZES[image_size or DEFAULT_IMAGE_SIZE]
    across, down = (int(part) for part in (aspect_ratio or DEFAULT_ASPECT_RATIO).split(":"))
    if across >= down:
        return longest, max(1, round(longest * down / across))
    return max(1, round(longest * across / down)), longest


# -- shapes -------------------------------------------------------------------------------


class Shape(Protocol):
    @property
    def colour(self) -> RGB: ...

    @property
    def top(self) -> float: ...

    @property
    def bottom(self) -> float: ...

    def span(self, y: float) -> tuple[float, float] | None:
        """The horizontal extent of the shape on the line through ``y`` (a pixel centre)."""
        ...


@dataclass(frozen=True)
class Rect:
    left: float
    top: float
    right: float
    bottom: float
    colour: RGB

    def span(self, y: float) -> tuple[float, float] | None:
        return (self.left, self.right) if self.top <= y < self.bottom else None


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    colour: RGB

    @property
    def top(self) -> float:
        return self.cy - self.r

    @property
    def bottom(self) -> float:
        return self.cy + self.r

    def span(self, y: float) -> tuple[float, float] | None:
        dy = y - self.cy
        if dy * dy >= self.r * self.r:
            return None
        half = math.sqrt(self.r * self.r - dy * dy)
        return self.cx - half, self.cx + half


@dataclass(frozen=True)
class Triangle:
    """An upright triangle: apex at (``apex_x``, ``top``), base from ``left`` to ``right``."""

    apex_x: float
    top: float
    left: float
    right: float
    bottom: float
    colour: RGB

    def span(self, y: float) -> tuple[float, float] | None:
        if not self.top <= y < self.bottom:
            return None
        t = (y - self.top) / (self.bottom - self.top)
        return self.apex_x + (self.left - self.apex_x) * t, self.apex_x + (self.right - self.apex_x) * t


# -- pictures -----------------------------------------------------------------------------


@dataclass
class Picture:
    """An 8-bit RGB raster, row-major without padding."""

    width: int
    height: int
    pixels: bytearray

    @classmethod
    def blank(cls, width: int, height: int) -> Picture:
        return cls(width, height, bytearray(width * height * 3))

    @property
    def stride(self) -> int:
        return self.width * 3

    def fill_row(self, y: int, colour: RGB) -> None:
        start = y * self.stride
        self.pixels[start : start + self.stride] = bytes(colour) * self.width

    def fill_span(self, y: int, x0: int, x1: int, colour: RGB) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        if x1 > x0 and 0 <= y < self.height:
            start = y * self.stride
            self.pixels[start + 3 * x0 : start + 3 * x1] = bytes(colour) * (x1 - x0)

    def draw(self, shape: Shape) -> None:
        first = max(0, math.floor(shape.top))
        last = min(self.height, math.ceil(shape.bottom))
        for y in range(first, last):
            extent = shape.span(y + 0.5)
            if extent is not None:
                self.fill_span(y, round(extent[0]), round(extent[1]), shape.colour)

    def map_channels(self, red: bytes, green: bytes, blue: bytes) -> None:
        """Remap each colour channel through a 256-byte lookup table."""
        for channel, table in enumerate((red, green, blue)):
            self.pixels[channel::3] = self.pixels[channel::3].translate(table)

    def to_png(self) -> bytes:
        stride, view = self.stride, memoryview(self.pixels)
        raw = bytearray((stride + 1) * self.height)  # every row: filter byte 0, then pixels
        for y in range(self.height):
            start = y * (stride + 1) + 1
            raw[start : start + stride] = view[y * stride : (y + 1) * stride]
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"".join(
            (
                PNG_SIGNATURE,
                _chunk(b"IHDR", header),
                _chunk(b"IDAT", zlib.compress(raw, _ZLIB_LEVEL)),
                _chunk(b"IEND", b""),
            )
        )

    @classmethod
    def from_png(cls, data: bytes) -> Picture | None:
        """Decode an unfiltered 8-bit RGB PNG (what :meth:`to_png` writes); None otherwise."""
        if not data.startswith(PNG_SIGNATURE):
            return None
        position, header, idat = len(PNG_SIGNATURE), b"", []
        while position + 8 <= len(data):
            length, tag = struct.unpack(">I4s", data[position : position + 8])
            body = data[position + 8 : position + 8 + length]
            if tag == b"IHDR":
                header = body
            elif tag == b"IDAT":
                idat.append(body)
            elif tag == b"IEND":
                break
            position += 12 + length
        if len(header) != 13:
            return None
        width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
        if (depth, colour_type, interlace) != (8, 2, 0) or not width or not height:
            return None
        try:
            raw = zlib.decompress(b"".join(idat))
        except zlib.error:
            return None
        stride = width * 3
        if len(raw) != (stride + 1) * height or raw[:: stride + 1].count(0) != height:
            return None  # filtered rows would need a per-byte decoder: not worth it here
        view = memoryview(raw)
        pixels = bytearray(
            b"".join(view[y * (stride + 1) + 1 : (y + 1) * (stride + 1)] for y in range(height))
        )
        return cls(width, height, pixels)


def _chunk(tag: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(tag + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", checksum)


# -- scenes -------------------------------------------------------------------------------


def scene_seed(prompt: str) -> int:
    """The seed of a prompt's scene: whitespace-insensitive, otherwise exact."""
    return int.from_bytes(hashlib.sha256(" ".join(prompt.split()).encode()).digest()[:8], "big")


def render_scene(prompt: str, width: int, height: int) -> Picture:
    """A landscape whose palette and layout are a pure function of ``prompt``."""
    rng = random.Random(scene_seed(prompt))

    def between(low: float, high: float) -> float:
        return low + (high - low) * rng.random()

    picture = Picture.blank(width, height)
    short = min(width, height)
    hue = rng.random()
    sky_top = _hsv(hue, between(0.45, 0.7), between(0.5, 0.75))
    sky_low = _hsv(hue + between(-0.08, 0.08), between(0.15, 0.35), between(0.85, 1.0))
    ground_hue = hue + between(0.3, 0.7)
    ground_top = _hsv(ground_hue, between(0.35, 0.6), between(0.55, 0.75))
    ground_low = _hsv(ground_hue, between(0.5, 0.8), between(0.25, 0.4))
    horizon = round(height * between(0.55, 0.72))
    for y in range(height):
        if y < horizon:
            picture.fill_row(y, _mix(sky_top, sky_low, y / max(1, horizon - 1)))
        else:
            picture.fill_row(y, _mix(ground_top, ground_low, (y - horizon) / max(1, height - horizon)))

    sun_colour = _hsv(between(0.07, 0.16), between(0.35, 0.75), 1.0)
    sun = Circle(
        width * between(0.15, 0.85), horizon * between(0.25, 0.6), short * between(0.07, 0.12), sun_colour
    )
    picture.draw(Circle(sun.cx, sun.cy, sun.r * 1.5, _mix(sun_colour, _mix(sky_top, sky_low, 0.4), 0.55)))
    picture.draw(sun)
    for _ in range(1 + int(rng.random() * 3)):
        cx, cy, size = width * rng.random(), horizon * between(0.1, 0.5), short * between(0.04, 0.08)
        cloud = _mix((255, 255, 255), sky_low, between(0.0, 0.3))
        for dx, dy, scale in ((-1.1, 0.2, 0.8), (0.0, 0.0, 1.0), (1.1, 0.25, 0.75)):
            picture.draw(Circle(cx + dx * size, cy + dy * size, size * scale, cloud))
    for _ in range(2 + int(rng.random() * 2)):
        peak = width * rng.random()
        half = max(width, height * 0.6) * between(0.15, 0.35)
        rise = horizon * between(0.2, 0.55)
        shade = _hsv(ground_hue + 0.45, between(0.15, 0.35), between(0.35, 0.6))
        picture.draw(Triangle(peak, horizon - rise, peak - half, peak + half, horizon, shade))
    hill_radius = max(width, height) * between(0.35, 0.6)
    hill = Circle(width * rng.random(), height + hill_radius * between(0.45, 0.7), hill_radius, ground_low)
    picture.draw(hill)
    for _ in range(2 + int(rng.random() * 4)):
        base = between(horizon + (height - horizon) * 0.25, height * 0.97)
        _draw_tree(picture, width * rng.random(), base, short * between(0.05, 0.1), between(0.25, 0.4))
    _draw_house(
        picture,
        width * between(0.1, 0.9),
        between(horizon + (height - horizon) * 0.4, height * 0.95),
        short * between(0.1, 0.16),
        rng.random(),
    )
    return picture


def _draw_tree(picture: Picture, x: float, base: float, size: float, hue: float) -> None:
    trunk = (96, 64, 40)
    picture.draw(Rect(x - size * 0.12, base - size * 1.2, x + size * 0.12, base, trunk))
    picture.draw(Circle(x, base - size * 1.5, size * 0.6, _hsv(hue, 0.65, 0.45)))


def _draw_house(picture: Picture, x: float, base: float, size: float, hue: float) -> None:
    wall = _hsv(hue, 0.25, 0.9)
    picture.draw(Rect(x - size * 0.6, base - size, x + size * 0.6, base, wall))
    picture.draw(
        Triangle(x, base - size * 1.7, x - size * 0.8, x + size * 0.8, base - size, _hsv(hue + 0.5, 0.6, 0.5))
    )
    picture.draw(Rect(x - size * 0.15, base - size * 0.55, x + size * 0.15, base, (90, 60, 45)))
    for side in (-1, 1):
        left = x + side * size * 0.38 - size * 0.12
        picture.draw(Rect(left, base - size * 0.8, left + size * 0.24, base - size * 0.55, (250, 225, 140)))


def _hsv(hue: float, saturation: float, value: float) -> RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _mix(start: RGB, end: RGB, t: float) -> RGB:
    t = min(1.0, max(0.0, t))
    return tuple(round(a + (b - a) * t) for a, b in zip(start, end, strict=True))  # type: ignore[return-value]


# -- edits --------------------------------------------------------------------------------


Curve = Callable[[int], float]


def _shift(amount: float) -> Curve:
    return lambda v: v + amount


def _scale(factor: float) -> Curve:
    return lambda v: v * factor


def _towards(target: float, weight: float) -> Curve:
    return lambda v: v + (target - v) * weight


_EDITS: Sequence[tuple[re.Pattern[str], str, tuple[Curve, Curve, Curve]]] = [
    (
        re.compile(r"\b(warm\w*|orange|golden|sunset|amber|red|redder)\b"),
        "warmer lighting",
        (_shift(45), _shift(10), _shift(-45)),
    ),
    (
        re.compile(r"\b(cool\w*|cold\w*|blue\w*|icy|winter\w*|frost\w*)\b"),
        "cooler, bluer light",
        (_shift(-40), _shift(0), _shift(45)),
    ),
    (
        re.compile(r"\b(green\w*|lush|spring\w*|forest\w*)\b"),
        "greener tones",
        (_shift(-15), _shift(40), _shift(-15)),
    ),
    (
        re.compile(r"\b(pink\w*|purple\w*|magenta|violet)\b"),
        "pinker tones",
        (_shift(30), _shift(-30), _shift(30)),
    ),
    (
        re.compile(r"\b(vintage|sepia|retro|faded|old)\b"),
        "faded, vintage tones",
        (_towards(200, 0.3), _towards(170, 0.3), _towards(120, 0.3)),
    ),
    (
        re.compile(r"\b(dark\w*|night\w*|dim\w*|moody|dusk|evening)\b"),
        "darker, night-time light",
        (_scale(0.45), _scale(0.45), _scale(0.5)),
    ),
    (
        re.compile(r"\b(bright\w*|lighter|lighten\w*|sunny|daylight|daytime|vivid)\b"),
        "brighter",
        (_towards(255, 0.35), _towards(255, 0.35), _towards(255, 0.35)),
    ),
    (
        re.compile(r"\b(invert\w*|negative)\b"),
        "inverted colours",
        (_towards(255, 2), _towards(255, 2), _towards(255, 2)),
    ),
]


def _table(curve: Curve) -> bytes:
    return bytes(max(0, min(255, round(curve(v)))) for v in range(256))


def edit_picture(picture: Picture, instruction: str) -> tuple[Picture, list[str]]:
    """A copy of ``picture`` changed as ``instruction`` asks, and what was changed.

    Recognised words (warmer, cooler/blue, greener, darker/night, brighter, vintage,
    invert, ...) remap the colour channels; anything else gets a tint and an accent mark,
    both seeded by the instruction, so every edit visibly changes the picture.
    """
    edited = Picture(picture.width, picture.height, bytearray(picture.pixels))
    words = instruction.lower()
    done: list[str] = []
    for pattern, description, curves in _EDITS:
        if pattern.search(words):
            edited.map_channels(*(_table(curve) for curve in curves))
            done.append(description)
    if not done:
        rng = random.Random(scene_seed("edit:" + instruction))
        tint = _hsv(rng.random(), 0.7, 0.9)
        edited.map_channels(*(_table(_towards(level, 0.3)) for level in tint))
        short = min(picture.width, picture.height)
        x, y = picture.width * (0.15 + 0.7 * rng.random()), picture.height * (0.15 + 0.5 * rng.random())
        edited.draw(Circle(x, y, short * 0.09, (255, 255, 255)))
        edited.draw(Circle(x, y, short * 0.07, tint))
        done.append("tinted towards #{:02x}{:02x}{:02x} and added an accent".format(*tint))
    return edited, done
