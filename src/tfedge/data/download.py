"""The download_data job: one TFDS data set fetched (or found) and prepared under results/.

This is where ``source: auto`` decides, once, between TFDS and the bundled stand-in, and where
the network may be used. TFDS's own caches come first: a data_dir where the data set is
already prepared is copied, one that holds only TFDS's finished downloads is prepared from
them offline, and only otherwise are the hosts the builder's files come from asked. The
record (``results/downloads/data/<dataset>.json``) says what was used and why, with the URLs,
sizes and SHA-256 TFDS registers for the files and the version prepared; prepare_data follows
it and never opens a connection.
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from tfedge.data.sources import SourceUnavailable
from tfedge.network import download_hosts, host_reachable

log = logging.getLogger(__name__)

# Probed for a builder that registers no download URLs (its files come from TFDS's bucket).
TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)


def tfds_default_data_dir() -> str:
    """Where TFDS looks when data_dir is null: $TFDS_DATA_DIR (set in the images) or its default."""
    return os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets")


def tfds_data_dir(settings: dict) -> Path:
    return Path(settings["data_dir"] or tfds_default_data_dir()).expanduser()


def tfds_builder(settings: dict, data_dir: str | Path | None = None):
    import tensorflow_datasets as tfds

    return tfds.builder(settings["tfds_name"], data_dir=str(data_dir or tfds_data_dir(settings)))


def tfds_is_prepared(settings: dict) -> bool:
    """True when the TFDS data set already sits in data_dir (no download needed)."""
    return tfds_builder(settings).is_prepared()


def tfds_downloads(settings: dict) -> dict[str, Path]:
    """{url: where TFDS's download manager keeps that finished download in data_dir/downloads}
    for every file the data set's builder registers."""
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core.download import resource

    url_infos = tfds.builder_cls(settings["tfds_name"]).url_infos or {}
    downloads = tfds_data_dir(settings) / "downloads"
    return {
        url: downloads / resource.get_dl_fname(url, info.checksum)
        for url, info in url_infos.items()
    }


def tfds_downloaded(settings: dict) -> bool:
    """Every registered download is in data_dir/downloads, finished (TFDS writes its .INFO
    last): the builder extracts and prepares from them without the network."""
    found = tfds_downloads(settings)
    return bool(found) and all(
        path.is_file() and path.with_name(path.name + ".INFO").is_file() for path in found.values()
    )


def tfds_offline_reason(settings: dict) -> str | None:
    """Where TFDS finds the data set without the network, in words; None if it does not."""
    where = tfds_data_dir(settings)
    if tfds_is_prepared(settings):
        return f"TFDS {settings['tfds_name']!r} is prepared in {where}"
    if tfds_downloaded(settings):
        return f"the downloads of TFDS {settings['tfds_name']!r} are in {where / 'downloads'}"
    return None


def tfds_availability(settings: dict) -> tuple[bool, str]:
    """(whether TFDS can deliver right now, and why, in words naming the place or the host).

    Offline first: prepared, or its downloads finished in data_dir. Otherwise the hosts the
    builder's registered files come from must answer (tf_flowers: download.tensorflow.org;
    mnist: storage.googleapis.com).
    """
    offline = tfds_offline_reason(settings)
    if offline:
        return True, offline
    hosts = download_hosts(tfds_downloads(settings)) or [TFDS_DOWNLOAD_HOST]
    silent = [
        host
        for host, port in hosts
        if not host_reachable((host, port), settings["probe_timeout_s"])
    ]
    if not silent:
        return True, f"{', '.join(host for host, _ in hosts)} answered"
    return False, (
        f"TFDS {settings['tfds_name']!r} is neither prepared nor downloaded in data_dir "
        f"{tfds_data_dir(settings)} and {', '.join(silent)} did not answer within "
        f"{settings['probe_timeout_s']} s"
    )


def registered_files(settings: dict) -> list[dict]:
    """The files TFDS downloads for the data set, as its builder registers them: URL, size and
    SHA-256 (the download manager checks each download against these)."""
    import tensorflow_datasets as tfds

    url_infos = tfds.builder_cls(settings["tfds_name"]).url_infos or {}
    return [
        {"url": url, "bytes": int(info.size), "sha256": info.checksum}
        for url, info in sorted(url_infos.items())
    ]


def prepare_into(settings: dict, folder: Path):
    """The data set prepared in ``folder`` (a TFDS data_dir): copied from data_dir where it is
    prepared, else prepared by TFDS, downloading into data_dir/downloads what is not there."""
    user_builder = tfds_builder(settings)
    if user_builder.is_prepared():
        inner = Path(user_builder.data_dir).relative_to(tfds_data_dir(settings))
        log.info("copying the prepared %s from %s", settings["tfds_name"], user_builder.data_dir)
        shutil.copytree(user_builder.data_dir, folder / inner)
        return tfds_builder(settings, folder)
    builder = tfds_builder(settings, folder)
    downloads = tfds_data_dir(settings) / "downloads"
    log.info("preparing %s (downloads in %s)", settings["tfds_name"], downloads)
    builder.download_and_prepare(download_dir=str(downloads))
    return builder


def fetch_dataset(name: str, settings: dict, folder: str | Path) -> dict:
    """Fetch dataset ``name`` (source tfds or auto) into ``folder``; returns the record.

    ``auto`` without TFDS leaves ``folder`` empty and records the bundled stand-in and why;
    ``tfds`` without it fails with the fix.
    """
    import tensorflow_datasets as tfds

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = settings["source"]
    available, why = tfds_availability(settings)
    record = {
        "dataset": name,
        "source_requested": source,
        "tfds_name": settings["tfds_name"],
        "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "tensorflow_datasets": tfds.__version__,
    }
    if not available and source == "tfds":
        raise SourceUnavailable(
            f"datasets.{name}: {why}. Prepare it where the network allows (tfds build, or "
            "this job: snakemake download_data) and copy the data_dir here (its downloads/ "
            "folder is enough), or use source auto."
        )
    if not available:
        log.warning("datasets.%s: %s; the bundled offline stand-in will be used", name, why)
        return {**record, "source_used": "bundled", "reason": f"auto fell back to bundled: {why}"}
    builder = prepare_into(settings, folder)
    return {
        **record,
        "source_used": "tfds",
        "reason": why if source == "tfds" else f"auto: {why}",
        "version": str(builder.info.version),
        "files": registered_files(settings),
    }
