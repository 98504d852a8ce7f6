"""The CLIP out-of-vocabulary check: one image, its prediction's WordNet relatives, one verdict.

For each mistake the analysis asks about (:mod:`reassess.labels.wordnet_proposals` builds the
prompts), a CLIP model (``open_clip:ARCH@PRETRAINED`` or ``hf-clip:REPO``, the loaders of
:mod:`reassess.models.zeroshot`) embeds the image and every proposal; the most similar proposal
decides. Verdicts are cached in the run folder (``oov_clip.parquet``, one row per sample), keyed
by sample, prediction, valid labels and model spec, and written after every chunk of images, so
an interrupted pass resumes where it stopped and a second ``analyze`` reuses them.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reassess.labels.wordnet_proposals import Proposal, oov_proposals
from reassess.store.atomic import atomic_write

CHUNK = 256


@dataclass(frozen=True)
class OOVVerdict:
    """What CLIP saw for one mistake: out of vocabulary or not, and the winning proposal."""

    prediction: int
    oov: bool
    best_lemma: str
    best_wnid: str
    best_kind: str
    probability: float
    num_proposals: int
    model: str


def oov_verdict(
    similarity: np.ndarray, proposals: Sequence[Proposal], *, prediction: int, model: str
) -> OOVVerdict:
    """The verdict from one image's CLIP similarities to its proposals (``proposals`` order).

    ``probability`` is the winner's softmax share at CLIP's usual scale of 100 (as in Peychev et
    al.), a measure of how clear the choice was.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.shape != (len(proposals),) or not len(proposals):
        raise ValueError(f"{sim.shape} similarities for {len(proposals)} proposals")
    logits = 100.0 * (sim - sim.max())
    share = np.exp(logits) / np.exp(logits).sum()
    best = int(np.argmax(sim))
    winner = proposals[best]
    return OOVVerdict(
        prediction=int(prediction),
        oov=not winner.in_vocabulary,
        best_lemma=winner.lemma,
        best_wnid=winner.wnid,
        best_kind=winner.kind,
        probability=float(share[best]),
        num_proposals=len(proposals),
        model=model,
    )


@dataclass(frozen=True)
class OOVQuery:
    """One mistake to check: its image file, the wrong prediction and the image's valid labels."""

    sample_id: str
    path: Path
    prediction: int
    valid_labels: tuple[int, ...]

    @property
    def key(self) -> str:
        return json.dumps([self.sample_id, self.prediction, list(self.valid_labels)])


def _cached(path: Path, model: str | None) -> dict[str, tuple[str, OOVVerdict]]:
    """Query key -> (sample id, verdict) of an ``oov_clip.parquet`` (only ``model``'s, if given).

    Raises ValueError (naming the file) when it is not a readable verdict file.
    """
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable oov_clip.parquet ({exc})") from None
    fields = set(OOVVerdict.__dataclass_fields__)
    try:
        return {
            row["key"]: (row["sample_id"], OOVVerdict(**{k: row[k] for k in fields}))
            for row in rows
            if model is None or row.get("model") == model
        }
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an oov_clip.parquet (missing {exc})") from None


def read_verdicts(path: Path, *, model: str | None = None) -> dict[str, OOVVerdict]:
    """Sample id -> verdict from an ``oov_clip.parquet`` (only ``model``'s, when given)."""
    return {sid: v for sid, v in _cached(Path(path), model).values()}


def _read_cache(path: Path, model: str) -> dict[str, tuple[str, OOVVerdict]]:
    """The cached verdicts of ``model``; an unreadable cache is recomputed, with a warning."""
    if not path.exists():
        return {}
    try:
        return _cached(path, model)
    except ValueError as exc:
        warnings.warn(f"{exc}; computing the CLIP verdicts again", stacklevel=2)
        return {}


def _write_cache(path: Path, entries: dict[str, tuple[str, OOVVerdict]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"key": k, "sample_id": s, **asdict(v)} for k, (s, v) in sorted(entries.items())]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"key": pa.array([], pa.string())})
    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def clip_oov_verdicts(
    queries: Sequence[OOVQuery],
    clip_spec: str,
    *,
    cache_path: Path,
    device: str | None = None,
    batch_size: int = 32,
    workers: int | None = None,
    progress: bool = True,
) -> tuple[dict[str, OOVVerdict], dict[str, Any]]:
    """CLIP's verdict for every query (cached ones are reused); and what happened, for run records.

    Images that cannot be decoded get no verdict (their mistakes stay ``undecidable``) and are
    listed in the returned summary.
    """
    import torch
    from timm.data import create_transform
    from torch.utils.data import DataLoader

    from reassess.datasets.decoding import ImageFiles, collate_skipping_failures
    from reassess.inference.runner import _progress
    from reassess.models.zeroshot import load_clip_backbone

    cache = _read_cache(cache_path, clip_spec)
    todo = [q for q in queries if q.key not in cache]
    summary: dict[str, Any] = {
        "model": clip_spec,
        "asked": len(queries),
        "cached": len(queries) - len(todo),
        "computed": 0,
        "unreadable": [],
    }
    if todo:
        backbone = load_clip_backbone(clip_spec, device)
        run_device = next(iter(backbone.image_encoder.parameters())).device
        encoder = backbone.image_encoder.eval()
        transform = create_transform(**backbone.data_config, is_training=False)
        n_workers = max(1, min(8, os.cpu_count() or 2)) if workers is None else int(workers)
        text_cache: dict[str, np.ndarray] = {}

        def encode_texts(texts: list[str]) -> None:
            missing = [t for t in dict.fromkeys(texts) if t not in text_cache]
            for start in range(0, len(missing), 256):
                part = missing[start : start + 256]
                with torch.inference_mode():
                    emb = backbone.encode_text(part).float().cpu().numpy()
                emb /= np.linalg.norm(emb, axis=1, keepdims=True)
                text_cache.update(zip(part, emb, strict=True))

        with _progress(progress, label="out-of-vocabulary check (CLIP)") as bar:
            task = bar.add_task("images", total=len(todo))
            for start in range(0, len(todo), CHUNK):
                chunk = todo[start : start + CHUNK]
                proposals = [oov_proposals(q.prediction, q.valid_labels) for q in chunk]
                encode_texts([p.text for props in proposals for p in props])
                loader = DataLoader(
                    ImageFiles([q.path for q in chunk], transform),
                    batch_size=batch_size,
                    num_workers=n_workers if len(chunk) > batch_size else 0,
                    collate_fn=collate_skipping_failures,
                )
                for images, good, failed in loader:
                    for position, error in failed:
                        summary["unreadable"].append(f"{chunk[position].path}: {error}")
                    if images is not None:
                        with torch.inference_mode():
                            feats = encoder(images.to(run_device)).float().cpu().numpy()
                        feats /= np.linalg.norm(feats, axis=1, keepdims=True)
                        for row, position in zip(feats, good.tolist(), strict=True):
                            query, props = chunk[position], proposals[position]
                            texts = np.stack([text_cache[p.text] for p in props])
                            verdict = oov_verdict(
                                texts @ row, props, prediction=query.prediction, model=clip_spec
                            )
                            cache[query.key] = (query.sample_id, verdict)
                            summary["computed"] += 1
                    bar.update(task, advance=len(good) + len(failed))
                _write_cache(cache_path, cache)
    wanted = {q.key for q in queries}
    verdicts = {sid: v for key, (sid, v) in cache.items() if key in wanted}
    summary["oov"] = sum(v.oov for v in verdicts.values())
    return verdicts, summary
