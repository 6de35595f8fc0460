"""Video decoding with PyAV: upright RGB frames, timestamps from pts.

No ffmpeg binary is needed. Frames are streamed one at a time; only the
frames a caller asks to convert are turned into RGB arrays (the conversion is
the largest per-frame cost after decoding itself).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from ..errors import InputError
from ..types import Frame, Image

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ts"}
)


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # upright (after rotation)
    height: int
    rotation: int  # counter-clockwise degrees applied to decoded frames
    duration_s: float
    frame_rate: float
    frame_count: int  # from the container; 0 when unknown
    codec: str

    def to_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "duration_s": round(self.duration_s, 6),
            "frame_rate": round(self.frame_rate, 6),
            "frame_count": self.frame_count,
            "codec": self.codec,
        }


def check_video_path(path: Path) -> None:
    """Raise InputError with a one-line reason if ``path`` cannot be a video file."""
    if not path.exists():
        if path.is_symlink():
            raise InputError(
                f"{path}: a symbolic link that leads nowhere (a loop or a missing target)"
            )
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a video file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")


def probe_video(path: Path) -> VideoInfo:
    """Open ``path`` and read its first and (MP4/MOV) last frames: InputError with a
    one-line reason unless it is a complete, decodable video."""
    with VideoReader(path) as reader:
        reader.check_end_readable()
        return reader.info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # PyAV messages end with ": '<path>'"; the caller names the file already.
    text = text.split(": '", 1)[0] if ": '" in text else text
    return text.splitlines()[0] if text else type(exc).__name__


def rotate_upright(image: Image, rotation: int) -> Image:
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=k)) if k else image


def upright_rgb(frame: av.VideoFrame, rotation: int) -> Image:
    """The decoded frame as an upright RGB array."""
    return rotate_upright(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8), rotation)


class VideoReader:
    """Open a video and stream its frames in decode order.

    Use as a context manager. ``frames()`` yields (index, time_s, keyframe,
    to_image) where ``to_image()`` converts that frame to an upright RGB array
    only when called.
    """

    def __init__(self, path: Path) -> None:
        check_video_path(path)
        self.path = path
        try:
            self._container = av.open(str(path), mode="r")
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(f"{path}: not a readable video ({_first_line(exc)})") from exc
        if not self._container.streams.video:
            kinds = sorted({str(s.type) for s in self._container.streams})
            self._container.close()
            contains = ", ".join(kinds) or "no streams"
            raise InputError(f"{path}: no video stream (contains {contains})")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self.info = self._probe()
        self.frames_without_pts = 0  # timestamps stepped from the frame rate instead

    def _probe(self) -> VideoInfo:
        rotation = self._stream_rotation()  # reopens the container: read the stream after
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 1)
        if stream.duration is not None:
            duration = float(stream.duration * time_base)
        elif self._container.duration is not None:
            duration = self._container.duration / av.time_base
        else:
            duration = 0.0
        self._stream_duration = (
            float(stream.duration * time_base) if stream.duration is not None else 0.0
        )
        rate = stream.average_rate or stream.guessed_rate or 0
        width = stream.codec_context.width
        height = stream.codec_context.height
        if (rotation // 90) % 2:
            width, height = height, width
        return VideoInfo(
            path=self.path,
            width=width,
            height=height,
            rotation=rotation,
            duration_s=duration,
            frame_rate=float(rate),
            frame_count=int(stream.frames or 0),
            codec=stream.codec_context.name,
        )

    def _stream_rotation(self) -> int:
        """Rotation from the first frame's display matrix (what decoding will apply)."""
        try:
            for frame in self._container.decode(self._stream):
                rotation = round(frame.rotation / 90.0) * 90
                break
            else:
                raise InputError(f"{self.path}: video stream has no decodable frames")
        except av.error.FFmpegError as exc:
            raise InputError(f"{self.path}: video data is corrupt ({_first_line(exc)})") from exc
        self.rewind()
        return rotation

    def rewind(self) -> None:
        """Start again at frame 0: reopened rather than sought, so decode order (and with
        it every frame index) restarts exactly."""
        self._container.close()
        self._container = av.open(str(self.path), mode="r")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def frames(self) -> Iterator[tuple[int, float, bool, Callable[[], Image]]]:
        """Yield every frame as (index, time_s, is_keyframe, to_image)."""
        for index, time_s, key, frame in self.raw_frames():
            rotation = self.info.rotation

            def to_image(frame: av.VideoFrame = frame, rotation: int = rotation) -> Image:
                return upright_rgb(frame, rotation)

            yield index, time_s, key, to_image

    def raw_frames(self) -> Iterator[tuple[int, float, bool, av.VideoFrame]]:
        """Yield every frame as (index, time_s, is_keyframe, PyAV frame), not yet rotated."""
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 1)
        index = -1
        last_time = float("-inf")
        try:
            for frame in self._container.decode(stream):
                index += 1
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is None:  # no timestamp: step from the previous one, and say so
                    if not self.frames_without_pts:
                        log.warning(
                            "fallback %s: frame %d has no timestamp; using the frame rate",
                            self.path.name,
                            index,
                        )
                    self.frames_without_pts += 1
                    step = 1.0 / self.info.frame_rate if self.info.frame_rate else 0.0
                    time_s = last_time + step if index else 0.0
                else:
                    time_s = float(pts * time_base)
                last_time = time_s
                yield index, time_s, bool(frame.key_frame), frame
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{self.path}: video data is corrupt or truncated after frame {index} "
                f"({_first_line(exc)})"
            ) from exc
        if index < 0:
            raise InputError(f"{self.path}: video stream has no decodable frames")
        self._check_complete(index + 1, last_time)

    def _check_complete(self, decoded: int, last_time: float) -> None:
        """Decoding reached the end: raise InputError if it ended well before the frames
        and duration the container declares. Frame-threaded decoding ends a truncated
        file quietly; this is where it is noticed."""
        info = self.info
        frame_s = 1.0 / info.frame_rate if info.frame_rate else 0.0
        short_of_count = info.frame_count and decoded < info.frame_count * 0.98 - 2
        short_of_time = (
            self._stream_duration
            and decoded > 1
            and last_time + frame_s < self._stream_duration * 0.95 - 1.0
        )
        if short_of_count or short_of_time:
            declared = f"{info.frame_count} frames, " if info.frame_count else ""
            raise InputError(
                f"{self.path}: video ends early: decoded {decoded} frames up to "
                f"{max(last_time, 0.0):.1f} s of the {declared}{info.duration_s:.1f} s it "
                "declares (truncated: an interrupted download or copy?)"
            )

    def check_end_readable(self) -> None:
        """For MP4/MOV, whose index says where every frame is: seek near the declared
        end and decode one frame, or raise InputError (the file was cut short).
        Containers without a reliable index are checked when decoding ends instead."""
        duration = self._stream_duration
        if not duration or "mp4" not in (self._container.format.name or ""):
            return
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 1)
        frame_s = 1.0 / self.info.frame_rate if self.info.frame_rate else 0.04
        found = False
        try:
            self._container.seek(
                int(max(duration - 2 * frame_s, 0.0) / time_base), stream=stream, backward=True
            )
            for _ in self._container.decode(stream):
                found = True
                break
        except av.error.FFmpegError:
            found = False
        self.rewind()
        if not found:
            raise InputError(
                f"{self.path}: video ends early: no frame can be read near the "
                f"{self.info.duration_s:.1f} s it declares (truncated: an interrupted "
                "download or copy?)"
            )

    def frames_from(self, time_s: float) -> Iterator[tuple[float, bool, av.VideoFrame]]:
        """Seek to the keyframe at or before ``time_s`` and yield (time_s, is_keyframe,
        PyAV frame) from there on. The frames' indices are unknown after a seek: match
        them by time (``rewind`` before using ``raw_frames`` again)."""
        stream = self._stream
        time_base = stream.time_base or Fraction(1, 1)
        try:
            self._container.seek(round(time_s / time_base), stream=stream, backward=True)
            for frame in self._container.decode(stream):
                pts = frame.pts if frame.pts is not None else frame.dts
                if pts is not None:
                    yield float(pts * time_base), bool(frame.key_frame), frame
        except av.error.FFmpegError as exc:
            raise InputError(
                f"{self.path}: video data is corrupt near {time_s:.2f} s ({_first_line(exc)})"
            ) from exc

    def read(self, wanted: set[int]) -> Iterator[Frame]:
        """Decode on (from the start, unless sought: ``rewind`` first) and yield the frames
        whose index is in ``wanted``, in order."""
        if not wanted:
            return
        last = max(wanted)
        for index, time_s, key, to_image in self.frames():
            if index in wanted:
                yield Frame(index=index, time_s=time_s, image=to_image(), is_keyframe=key)
            if index >= last:
                break
