"""Person From Vid's config files, read as ours.

Person From Vid names its YAML sections and fields differently. A config file that uses
its names is translated field by field (``PFV_FIELDS``) into our sections before it is
validated, so its users' files run unchanged:

- a field with an equivalent here takes our name (``frame_extraction:
  temporal_sampling_interval`` is ``sampling.sample_interval``);
- a field of theirs with no equivalent here (``closeup_detection`` thresholds, its model
  names) is ignored with one WARNING naming it;
- anything else still fails as an unknown setting, and a setting given twice (under
  their name and ours, or by two of their sections) is a clear error naming both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .errors import ConfigError

log = logging.getLogger(__name__)

# Their (section, field) -> our (section, field); None: no equivalent here (ignored).
# Nested sections of theirs are written with dots ("output.image.png.optimize").
PFV_FIELDS: dict[tuple[str, str], tuple[str, str] | None] = {
    ("models", "confidence_threshold"): ("models", "confidence"),
    ("models", "face_detection_model"): None,
    ("models", "pose_estimation_model"): None,
    ("models", "head_pose_model"): None,
    ("models", "require_complete_faces"): None,
    ("models", "face_edge_threshold"): None,
    ("models", "chin_margin_pixels"): None,
    ("frame_extraction", "temporal_sampling_interval"): ("sampling", "sample_interval"),
    ("frame_extraction", "max_frames_per_video"): ("sampling", "max_frames"),
    ("frame_extraction", "enable_keyframe_detection"): None,
    ("frame_extraction", "enable_temporal_sampling"): None,
    ("quality", "blur_threshold"): None,
    ("quality", "brightness_min"): None,
    ("quality", "brightness_max"): None,
    ("quality", "contrast_min"): None,
    ("quality", "enable_multiple_metrics"): None,
    ("pose_classification", "standing_hip_knee_angle_min"): ("pose", "standing_min_angle"),
    ("pose_classification", "sitting_hip_knee_angle_min"): ("pose", "sitting_min_angle"),
    ("pose_classification", "sitting_hip_knee_angle_max"): ("pose", "sitting_max_angle"),
    ("pose_classification", "squatting_hip_knee_angle_max"): ("pose", "squatting_max_angle"),
    ("pose_classification", "closeup_face_area_threshold"): None,
    ("head_angle", "yaw_threshold_degrees"): ("head_angle", "yaw_looking"),
    ("head_angle", "pitch_threshold_degrees"): ("head_angle", "pitch_threshold"),
    ("head_angle", "max_roll_degrees"): ("head_angle", "max_roll"),
    ("head_angle", "profile_yaw_threshold"): ("head_angle", "yaw_profile"),
    ("closeup_detection", "extreme_closeup_threshold"): None,
    ("closeup_detection", "closeup_threshold"): None,
    ("closeup_detection", "medium_closeup_threshold"): None,
    ("closeup_detection", "medium_shot_threshold"): None,
    ("closeup_detection", "shoulder_width_threshold"): None,
    ("closeup_detection", "enable_distance_estimation"): None,
    ("frame_selection", "min_quality_threshold"): ("quality", "threshold"),
    ("frame_selection", "temporal_diversity_threshold"): ("selection", "min_seconds_apart"),
    ("frame_selection", "face_size_weight"): None,
    ("frame_selection", "quality_weight"): None,
    ("frame_selection", "diversity_threshold"): None,
    ("person_selection", "min_quality_threshold"): ("quality", "threshold"),
    ("person_selection", "temporal_diversity_threshold"): ("selection", "min_seconds_apart"),
    ("person_selection", "enabled"): None,
    ("person_selection", "min_instances_per_person"): None,
    ("person_selection", "max_instances_per_person"): None,
    ("person_selection", "enable_pose_categories"): None,
    ("person_selection", "enable_head_angle_categories"): None,
    ("person_selection", "min_poses_per_person"): None,
    ("person_selection", "min_head_angles_per_person"): None,
    ("person_selection", "max_total_selections"): None,
    ("output", "preserve_metadata"): None,
    ("output.image", "format"): ("output", "format"),
    ("output.image", "face_crop_enabled"): ("output", "face_crops"),
    ("output.image", "face_crop_padding"): ("output", "face_crop_padding"),
    ("output.image", "face_restoration_enabled"): ("output", "face_restoration"),
    ("output.image", "face_restoration_strength"): ("output", "face_restoration_strength"),
    ("output.image", "enable_pose_cropping"): ("output", "body_crops"),
    ("output.image", "full_frames"): ("output", "full_frames"),
    ("output.image", "pose_crop_padding"): ("output", "crop_padding"),
    ("output.image", "resize"): ("output", "resize"),
    ("output.image", "crop_ratio"): ("output", "crop_ratio"),
    ("output.image", "default_crop_size"): None,
    ("output.image.png", "optimize"): ("output", "png_optimize"),
    ("output.image.jpeg", "quality"): ("output", "jpg_quality"),
    ("storage", "cache_directory"): ("models", "cache_dir"),
    ("storage", "keep_temp"): ("pipeline", "keep_temp"),
    ("storage", "temp_directory"): None,
    ("storage", "cleanup_temp_on_success"): None,
    ("storage", "cleanup_temp_on_failure"): None,
    ("storage", "force_temp_cleanup"): None,
    ("storage", "max_cache_size_gb"): None,
    ("processing", "force_restart"): ("pipeline", "force"),
    ("processing", "parallel_workers"): ("pipeline", "workers"),
    ("processing", "save_intermediate_results"): None,
    ("processing", "max_processing_time_minutes"): None,
    ("logging", "level"): ("logging", "log_level"),
    ("logging", "enable_file_logging"): None,
    ("logging", "enable_rich_console"): None,
    ("logging", "enable_structured_output"): None,
}

# Sections only Person From Vid has: every field of theirs in them is translated.
PFV_SECTIONS = frozenset(s for s, _ in PFV_FIELDS if "." not in s) - {
    "models",
    "quality",
    "head_angle",
    "output",
    "logging",
}
_NESTED = frozenset(s for s, _ in PFV_FIELDS if "." in s)
# Their output section's own fields that are ours too (under another section).
_OUTPUT_MOVED = {
    "min_frames_per_category": ("selection", "min_frames_per_category"),
    "max_frames_per_category": ("selection", "max_frames_per_category"),
}


def translate(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``data`` (one config file's mapping) with Person From Vid's names made ours."""
    result: dict[str, Any] = {}
    given: dict[tuple[str, str], str] = {}  # our setting -> the name it was given as
    ignored: list[str] = []

    def put(ours: tuple[str, str], value: Any, name: str) -> None:
        if ours in given:
            raise ConfigError(
                f"{source}: {given[ours]} and {name} both set {'.'.join(ours)}; keep one"
            )
        given[ours] = name
        result.setdefault(ours[0], {})[ours[1]] = value

    def walk(section: str, values: Mapping[str, Any]) -> None:
        for field, value in values.items():
            name = f"{section}.{field}"
            if isinstance(value, Mapping) and name in _NESTED:
                walk(name, value)
            elif (section, field) in PFV_FIELDS:
                ours = PFV_FIELDS[(section, field)]
                if ours is None:
                    ignored.append(name)
                else:
                    put(ours, value, name)
            elif section == "output" and field in _OUTPUT_MOVED:
                put(_OUTPUT_MOVED[field], value, name)
            elif section in PFV_SECTIONS or section in _NESTED:
                raise ConfigError(f"{source}: unknown Person From Vid setting {name}")
            else:  # one of ours: the file may mix both tools' names
                put((section, field), value, name)

    for section, values in data.items():
        if isinstance(values, Mapping):
            walk(str(section), values)
        else:
            result[section] = values  # validated as ours (the error names the section)
    if ignored:
        log.warning(
            "%s: Person From Vid settings with no equivalent here, ignored: %s",
            source,
            ", ".join(ignored),
        )
    return result
