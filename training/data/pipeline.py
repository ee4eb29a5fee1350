"""``qwenpair train data``: sources in, tokenized shards and a manifest out, in one stream.

    per source: collect -> rule filters -> exact/near dedup -> decontaminate -> classifiers
    then:       mix by ratio -> over-long rule -> units (documents or repo groups)
                -> samples (FIM / repo-level, via model.prompt) -> tokens -> packed rows
                -> shards (atomic) + manifest

Documents flow one at a time; what is kept in memory is the dedup hashes, the benchmark
n-grams and a small packing buffer, never the corpus. Each shard holds whole units and
records which units it covers and a hash of their text, so a rerun of the same command
keeps the finished shards (after checking them), replays the cheap stages to rebuild the
dedup state, skips formatting and tokenizing up to the last finished shard, and refuses to
continue if the inputs changed meanwhile. Every stage reports its counts.

Run ``qwenpair train data --help`` for the options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.prompt import PROMPT_FORMAT_VERSION, Prompt
from model.text_tokens import prompt_ids, text_ids
from training.atomic import clean_tmp, write_text
from training.data.classifier import ClassifierStage
from training.data.decontam import Decontaminator
from training.data.dedup import DedupConfig, Deduplicator
from training.data.filters import FilterChain, FilterConfig
from training.data.fim import FimConfig, file_sample, plain_sample
from training.data.mix import DEFAULT_RATIOS, MixReport, mix
from training.data.pack import Packer, PackConfig, fit_sample, split_overlong
from training.data.repo_samples import RepoGrouper, repo_sample
from training.data.shards import MANIFEST, Manifest, ShardInfo, ShardWriter, verify_shard
from training.data.sources import KINDS, Document, iter_documents, parse_source
from training.errors import DataError, MismatchError
from training.provenance import check_prompt_format, check_tokenizer, config_diff, config_dict, fingerprint

LEVELS = ("file", "repo")


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides the shards' content (the output folder aside)."""

    code: tuple[str, ...] = ()  # code sources: DIR, REPO@REV or FILE.jsonl
    text: tuple[str, ...] = ()  # prose sources
    math: tuple[str, ...] = ()  # maths sources
    ratios: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RATIOS))  # mix by characters
    mix_until: str = "first"  # stop when the first source runs out ("first") or go on ("all")
    level: str = "file"  # file: file-level samples (stage 1); repo: repo-level (stage 2)
    pack: PackConfig = PackConfig()
    fim: FimConfig = FimConfig()
    filters: FilterConfig = FilterConfig()
    dedup: DedupConfig = DedupConfig()
    classifiers: tuple[str, ...] = ()  # SPEC[@THRESHOLD] (training.data.classifier)
    benchmarks: tuple[str, ...] = ()  # benchmark files to decontaminate against
    ngram: int = 10  # words per n-gram in decontamination
    max_file_bytes: int = 1_000_000  # larger files are skipped (counted)
    rows_per_shard: int = 1_024  # a shard closes after this many rows (at a unit boundary)
    seed: int = 0  # FIM and repo grouping randomness

    def resolved(self) -> dict[str, Any]:
        """The configuration with source paths made absolute (what the manifest records)."""
        data = config_dict(self)
        for kind in KINDS:
            data[kind] = [str(parse_source(kind, s).label) for s in getattr(self, kind)]
        data["benchmarks"] = [str(Path(b).resolve()) for b in self.benchmarks]
        return data


@dataclass
class DataResult:
    manifest: Manifest
    report: dict[str, Any]
    out: Path


def run_data(cfg: DataConfig, out: Path, *, overwrite: bool = False, progress: bool = True,
             log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
             on_shard: Callable[[ShardInfo], None] | None = None) -> DataResult:
    """Build (or finish) the shard set in ``out``; returns the manifest and the stage report.

    ``on_shard`` is called after each shard is committed and listed in the manifest.
    """
    from model.tokenizer import load_fast_tokenizer, tokenizer_dir
    from training.provenance import tokenizer_fingerprint

    if cfg.level not in LEVELS:
        raise DataError(f"--level must be one of {', '.join(LEVELS)}")
    if not (cfg.code or cfg.text or cfg.math):
        raise DataError("no sources: give at least one --code, --text or --math")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    clean_tmp(out)
    tokenizer = load_fast_tokenizer()
    tok_fp = tokenizer_fingerprint(tokenizer)
    resolved = cfg.resolved()
    manifest = Manifest(
        seq_len=cfg.pack.seq_len, prompt_format_version=PROMPT_FORMAT_VERSION,
        tokenizer={"fingerprint": tok_fp, "path": str(tokenizer_dir())},
        config=resolved, config_fingerprint=fingerprint(resolved),
    )
    kept = _resume(out, manifest, overwrite, log)
    if kept is not None and kept.complete:
        log(f"train data: {out} is already complete ({len(kept.shards)} shards, {kept.rows} rows); nothing to do")
        return DataResult(kept, kept.stats, out)
    if kept is not None:
        manifest.shards = kept.shards

    run = _Run(cfg, tokenizer, progress)
    units = run.units()
    skip_until = manifest.shards[-1].unit_end if manifest.shards else 0
    if skip_until:
        log(f"train data: keeping {len(manifest.shards)} finished shards; continuing after unit {skip_until}")
    old = {s.unit_end: s for s in manifest.shards}
    samples_total = Counter()
    for s in manifest.shards:
        samples_total.update(s.samples)

    writer: ShardWriter | None = None
    packer = digest = shard_stats = None
    unit_index = 0
    skip_digest = hashlib.sha256()
    try:
        for unit_index, unit in enumerate(units):
            if unit_index < skip_until:  # a finished shard covers it: only check it is unchanged
                _hash_unit(skip_digest, unit)
                done = old.get(unit_index + 1)
                if done is not None:
                    if skip_digest.hexdigest() != done.input_digest:
                        raise DataError(
                            f"the sources changed since {done.name} was written in {out}: "
                            "run again with --overwrite to rebuild every shard"
                        )
                    skip_digest = hashlib.sha256()
                continue
            if writer is None:
                writer = ShardWriter(out, len(manifest.shards), cfg.pack.seq_len, unit_index)
                packer = Packer(cfg.pack.seq_len, cfg.pack.packing, cfg.pack.buffer)
                digest, shard_stats = hashlib.sha256(), Counter()
            _hash_unit(digest, unit)
            rng = random.Random((cfg.seed << 40) + unit_index)
            text = run.sample_text(unit, rng, shard_stats)
            ids = prompt_ids(tokenizer, text)  # as the server: markers by ID, documents as text
            for piece in fit_sample(ids, cfg.pack.seq_len, cfg.pack.overlong, shard_stats):
                for row in packer.add(piece):
                    writer.write(row)
            if writer.rows >= cfg.rows_per_shard:
                manifest.shards.append(_close(writer, packer, unit_index + 1, digest, shard_stats))
                samples_total.update(manifest.shards[-1].samples)
                manifest.save(out)
                run.bar_postfix(len(manifest.shards))
                writer = None
                if on_shard is not None:
                    on_shard(manifest.shards[-1])
        if writer is not None:
            for row in packer.flush():
                writer.write(row)
            if writer.rows:
                manifest.shards.append(_close(writer, packer, unit_index + 1, digest, shard_stats, flushed=True))
                samples_total.update(manifest.shards[-1].samples)
            else:
                writer.abort()
            writer = None
    except BaseException as exc:
        if writer is not None:
            writer.abort(exc)
        if manifest.shards:
            manifest.save(out)
        raise
    finally:
        run.close()

    report = run.report(samples_total, manifest)
    if not manifest.shards:
        raise DataError(f"nothing to train on: {run.empty_reason()}. No shards were written.")
    manifest.complete = True
    manifest.stats = report
    manifest.save(out)
    write_text(out / "decontamination.jsonl",
               "".join(json.dumps(dataclasses.asdict(c)) + "\n" for c in run.decontam.report) if run.decontam else "")
    write_text(out / "report.json", json.dumps(report, indent=2, sort_keys=True) + "\n")
    return DataResult(manifest, report, out)


class _Run:
    """The document stages of one run and their counters."""

    def __init__(self, cfg: DataConfig, tokenizer, progress: bool):
        self.cfg, self.tokenizer = cfg, tokenizer
        self.source_stats: dict[str, Counter] = {k: Counter() for k in KINDS}
        self.filters = FilterChain(cfg.filters)
        self.dedup = Deduplicator(cfg.dedup)
        self.decontam = Decontaminator.from_files([Path(b) for b in cfg.benchmarks], n=cfg.ngram) if cfg.benchmarks else None
        self.classify = ClassifierStage.from_specs(list(cfg.classifiers)) if cfg.classifiers else None
        self.mix_report = MixReport()
        self.overlong = Counter()
        self.kept = Counter()
        self._bar = None
        self.progress = progress
        self.sources = {k: [parse_source(k, s) for s in getattr(cfg, k)] for k in KINDS}

    def _stream(self, kind: str) -> Iterator[Document]:
        for source in self.sources[kind]:
            for doc in iter_documents(source, self.source_stats[kind], max_file_bytes=self.cfg.max_file_bytes):
                if not self.filters.keep(doc) or not self.dedup.keep(doc):
                    continue
                if self.decontam is not None and not self.decontam.keep(doc):
                    continue
                if self.classify is not None and not self.classify.keep(doc):
                    continue
                self.kept[kind] += 1
                yield doc

    def units(self) -> Iterator[tuple[Document, ...]]:
        from tqdm import tqdm

        streams = {k: self._stream(k) for k in KINDS if self.sources[k]}
        docs = mix(streams, self.cfg.ratios, until=self.cfg.mix_until, report=self.mix_report)
        self._bar = tqdm(docs, desc="train data", unit="doc", disable=not self.progress, dynamic_ncols=True)
        repo_level = self.cfg.level == "repo"
        docs = split_overlong(iter(self._bar), self.tokenizer, self.cfg.pack.seq_len, self.cfg.pack.overlong,
                              self.overlong, repo_level)
        if not repo_level:
            return ((d,) for d in docs)
        count = lambda text: len(text_ids(self.tokenizer, text))  # noqa: E731
        return RepoGrouper(self.cfg.pack.seq_len, count, self.cfg.seed).units(docs)

    def sample_text(self, unit: tuple[Document, ...], rng: random.Random, stats: Counter) -> Prompt:
        *context, current = unit
        if self.cfg.level == "repo" and current.kind == "code":
            stats["repo_files"] += len(unit)
            return repo_sample(current.repo, context, current, rng, self.cfg.fim, stats)
        if current.kind == "code":
            return file_sample(current.text, current.lang, rng, self.cfg.fim, stats)
        stats["plain"] += 1
        return plain_sample(current.text)

    def bar_postfix(self, shards: int) -> None:
        if self._bar is not None:
            self._bar.set_postfix(shards=shards)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def report(self, samples: Counter, manifest: Manifest) -> dict[str, Any]:
        rows, tokens = manifest.rows, manifest.tokens
        capacity = rows * manifest.seq_len
        return {
            "sources": {k: dict(v) for k, v in self.source_stats.items() if self.sources[k]},
            "filters": dict(self.filters.removed),
            "dedup": dict(self.dedup.removed),
            "decontamination": dict(self.decontam.removed) if self.decontam else {},
            "classifiers": {"removed": dict(self.classify.removed), "scored": dict(self.classify.scored)}
            if self.classify else {},
            "kept_documents": dict(self.kept),
            "mix": {"documents": dict(self.mix_report.docs), "char_shares": self.mix_report.shares(),
                    "stopped_when_out_of": self.mix_report.stopped_by, "left_out": self.mix_report.left_out},
            "overlong": dict(self.overlong),
            "samples": dict(samples),
            "shards": len(manifest.shards), "rows": rows, "tokens": tokens,
            "fill": round(tokens / capacity, 4) if capacity else 0.0,
        }

    def empty_reason(self) -> str:
        seen = sum(s["files_seen"] + s["records_seen"] for s in self.source_stats.values())
        parts = [f"{seen} files/records read"]
        bad = sum(s["invalid_utf8"] + s["binary"] for s in self.source_stats.values())
        if bad:
            parts.append(f"{bad} not UTF-8 text")
        excluded = sum(n for s in self.source_stats.values() for k, n in s.items() if k.startswith("excluded"))
        if excluded:
            parts.append(f"{excluded} excluded by the path rules")
        for name, n in self.dedup.removed.items():
            if n:
                parts.append(f"{n} {name} duplicates")
        for name, n in self.filters.removed.items():
            if n:
                parts.append(f"{n} removed by the {name} filter")
        if self.decontam is not None and self.decontam.removed:
            parts.append(f"{sum(self.decontam.removed.values())} contaminated")
        if self.classify is not None and self.classify.removed:
            parts.append(f"{sum(self.classify.removed.values())} under a classifier threshold")
        if self.overlong:
            parts.append(f"{self.overlong.get('overlong_docs_dropped', 0)} too long")
        return ", ".join(parts) + "; no document was left"


def _hash_unit(digest, unit: tuple[Document, ...]) -> None:
    for doc in unit:
        digest.update(f"{doc.kind}\0{doc.repo}\0{doc.path}\0".encode("utf-8", "surrogatepass"))
        digest.update(doc.text.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")


def _close(writer: ShardWriter, packer: Packer, unit_end: int, digest, stats: Counter, flushed: bool = False) -> ShardInfo:
    if not flushed:
        for row in packer.flush():
            writer.write(row)
    stats.update({f"packed_{k}": v for k, v in packer.stats.items()})
    return writer.commit(unit_end, digest.hexdigest(), dict(stats))


def _resume(out: Path, manifest: Manifest, overwrite: bool, log: Callable[[str], None]) -> Manifest | None:
    """The finished part of an earlier run into ``out`` that this run may keep, or None."""
    if not (out / MANIFEST).is_file():
        return None
    if overwrite:
        for f in out.glob("shard-*.bin"):
            f.unlink()
        (out / MANIFEST).unlink()
        return None
    old = Manifest.load(out)
    where = f"the shards in {out}"
    check_prompt_format(old.prompt_format_version, where)
    check_tokenizer(manifest.tokenizer["fingerprint"], old.tokenizer.get("fingerprint"), where)
    if old.config_fingerprint != manifest.config_fingerprint:
        diff = "; ".join(config_diff(old.config, manifest.config)) or "(same fields, different values)"
        raise MismatchError(
            f"{out} holds shards made with another configuration ({diff}). "
            "Use another --out, or --overwrite to replace them."
        )
    good: list[ShardInfo] = []
    for info in old.shards:
        if not verify_shard(out, info, old.seq_len):
            log(f"train data: {info.name} is damaged or missing; rebuilding from there")
            break
        good.append(info)
    old.shards = good
    if len(good) < len(Manifest.load(out).shards):
        old.complete = False
    return old
