"""``RestorationSettings``: everything that decides how faces are restored, in one frozen
record. The pipeline, ``personframes restore`` and library callers build one
(:meth:`RestorationSettings.from_config`, or the constructor with the fields they
change) and hand it to :func:`~personframes.restore.restorer.create_restorer`,
:class:`~personframes.restore.api.FaceRestoration` and
:func:`~personframes.restore.api.restore_faces`; its defaults are the config's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Config, ModelsConfig, OutputConfig, PolicyName, PrecisionMode, RestoreConfig
from ..devices import Device
from ..errors import InputError

# The config's own defaults (the one table of them).
_OUT, _RESTORE, _MODELS = (s.model_fields for s in (OutputConfig, RestoreConfig, ModelsConfig))


@dataclass(frozen=True)
class RestorationSettings:
    model: str = _OUT["face_restoration_model"].default
    strength: float = _OUT["face_restoration_strength"].default  # the most used
    policy: PolicyName = _OUT["face_restoration_policy"].default
    max_drift: float | None = _OUT["face_restoration_max_drift"].default
    fidelity: float = _RESTORE["fidelity"].default  # CodeFormer's; others ignore it
    upscale: int = 1  # restore_faces and `restore`: the image comes back this much larger
    engine: str = _MODELS["restore_engine"].default
    precision: PrecisionMode = _MODELS["precision"].default
    device: Device = _MODELS["device"].default

    def __post_init__(self) -> None:
        if not 0.0 <= self.strength <= 1.0:
            raise InputError(f"face restoration strength must be in [0, 1], got {self.strength}")
        if self.upscale < 1:
            raise InputError(f"upscale must be at least 1, got {self.upscale}")

    @classmethod
    def from_config(cls, config: Config) -> RestorationSettings:
        """The settings of ``config``'s ``output``, ``restore`` and ``models`` sections."""
        out, models = config.output, config.models
        return cls(
            model=out.face_restoration_model,
            strength=out.face_restoration_strength,
            policy=out.face_restoration_policy,
            max_drift=out.face_restoration_max_drift,
            fidelity=config.restore.fidelity,
            upscale=config.restore.upscale,
            engine=models.restore_engine,
            precision=models.precision,
            device=models.device,
        )
