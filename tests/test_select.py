from __future__ import annotations

import random
from itertools import combinations

import pytest

from personframes.config import QualityConfig, SelectionConfig
from personframes.pipeline.selection import Candidate, select_frames
from personframes.video.sampling import hamming

SEL = SelectionConfig()
QUAL = QualityConfig()


def cand(
    t: float,
    quality: float = 0.8,
    person: int = 1,
    pose: str = "sitting",
    head: str = "front",
    dhash: int | None = None,
    face: float = 100.0,
) -> Candidate:
    return Candidate(
        person_id=person,
        frame_index=int(t * 30),
        time_s=t,
        pose=pose,
        head_direction=head,
        shot_type="full_body",
        quality=quality,
        face_size=face,
        dhash=dhash if dhash is not None else random.Random(t).getrandbits(64),
    )


def random_candidates(rng: random.Random, n: int) -> list[Candidate]:
    return [
        Candidate(
            person_id=rng.randint(1, 3),
            frame_index=i,
            time_s=round(rng.uniform(0, 60), 2),
            pose=rng.choice(["standing", "sitting", "unknown"]),
            head_direction=rng.choice(["front", "looking_left", "profile_left", "unknown"]),
            shot_type="medium_shot",
            quality=rng.random(),
            face_size=rng.uniform(20, 300),
            dhash=rng.getrandbits(64) if rng.random() > 0.2 else 0,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("seed", range(40))
def test_spacing_and_quotas_hold_for_random_inputs(seed: int) -> None:
    rng = random.Random(seed)
    maximum = rng.randint(1, 6)
    config = SelectionConfig(
        min_frames_per_category=rng.randint(0, maximum),
        max_frames_per_category=maximum,
        min_seconds_apart=rng.choice([0.0, 1.0, 3.0, 10.0]),
    )
    candidates = random_candidates(rng, rng.randint(0, 120))
    chosen = select_frames(candidates, config, QUAL, dedup_distance=4)
    groups: dict[tuple[int, str, str], list[Candidate]] = {}
    for s in chosen:
        c = s.candidate
        groups.setdefault((c.person_id, c.pose, c.head_direction), []).append(c)
        assert c.quality >= QUAL.threshold
        assert c.head_direction != "unknown"
        assert s.reason.startswith(f"rank {s.rank} in {c.pose}/{c.head_direction}")
    for members in groups.values():
        assert len(members) <= config.max_frames_per_category
        for a, b in combinations(members, 2):
            assert abs(a.time_s - b.time_s) >= config.min_seconds_apart
    # Every category with a good candidate gets at least one frame.
    good = {
        (c.person_id, c.pose, c.head_direction)
        for c in candidates
        if c.quality >= QUAL.threshold and c.head_direction != "unknown"
    }
    assert set(groups) == good


def test_best_first_and_spaced() -> None:
    # Quality peaks at t=10; neighbours within 3 s are skipped.
    cands = [cand(t, quality=1.0 - abs(t - 10) / 20) for t in [x * 0.5 for x in range(41)]]
    chosen = select_frames(cands, SEL, QUAL, dedup_distance=4)
    times = [s.candidate.time_s for s in chosen]
    assert times[0] == 10.0
    assert len(chosen) == SEL.max_frames_per_category
    assert all(abs(a - b) >= 3.0 for a, b in combinations(times, 2))
    assert [s.rank for s in chosen] == [1, 2, 3, 4, 5]
    assert "quality 1.00, face 100 px" in chosen[0].reason


def test_close_frames_never_fill_the_minimum() -> None:
    # Four good frames within one second: only one may be kept.
    chosen = select_frames([cand(5.0 + 0.25 * k) for k in range(4)], SEL, QUAL, dedup_distance=4)
    assert len(chosen) == 1


def test_poor_quality_dropped_and_categories_separate() -> None:
    cands = [
        cand(1.0, quality=0.1),
        cand(2.0, quality=0.9, head="profile_left"),
        cand(2.0, quality=0.9, person=2),
    ]
    chosen = select_frames(cands, SEL, QUAL, dedup_distance=4)
    keys = sorted((s.candidate.person_id, s.candidate.head_direction) for s in chosen)
    assert keys == [(1, "profile_left"), (2, "front")]


def test_duplicates_skipped_unless_needed_for_minimum() -> None:
    same = 0x0F0F_0F0F_0F0F_0F0F
    cands = [cand(t, dhash=same) for t in (0.0, 4.0, 8.0, 12.0, 16.0, 20.0)]
    chosen = select_frames(cands, SEL, QUAL, dedup_distance=4)
    # All look alike: the first pass keeps one, the minimum is filled (spacing kept).
    assert len(chosen) == SEL.min_frames_per_category
    assert sum("near-duplicate" in s.reason for s in chosen) == SEL.min_frames_per_category - 1
    distinct = [cand(t, dhash=(1 << int(t)) * 0xFFFF) for t in (0.0, 4.0, 8.0, 12.0, 16.0, 20.0)]
    assert len(select_frames(distinct, SEL, QUAL, dedup_distance=4)) == SEL.max_frames_per_category


def test_face_size_breaks_quality_ties() -> None:
    chosen = select_frames([cand(0.0, face=50), cand(10.0, face=200)], SEL, QUAL, dedup_distance=4)
    assert chosen[0].candidate.face_size == 200


def test_hamming() -> None:
    assert hamming(0b1011, 0b0001) == 2
