"""Two node processes end to end: PSI, federated LR and scoring over signed HTTP on loopback."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from nacl.signing import SigningKey
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from puhui.federated.audit import read_audit_file, verify_audit_file
from puhui.federated.auth import NodeIdentity, load_or_create_identity
from puhui.federated.client import PeerClient
from puhui.federated.data import load_party, split_synthetic
from puhui.federated.errors import PeerError
from puhui.federated.jobs import load_intersection
from puhui.federated.linear import Standardizer, TrainingParameters, training_rows
from puhui.federated.node_process import control, running_pair


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("federated")
    bank_dir, platform_dir = root / "bank", root / "platform"
    split_synthetic(bank_dir, platform_dir, firms=5000, seed=11)
    parameters = TrainingParameters(iterations=40)
    with running_pair(bank_dir, platform_dir) as bank_url:
        psi = control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": 1500})
        train = control(
            bank_dir,
            bank_url,
            "train",
            {"psi_job": psi["job_id"], "parameters": parameters.__dict__},
        )
        score = control(
            bank_dir, bank_url, "score", {"model_job": train["job_id"], "psi_job": psi["job_id"]}
        )
        platform_url = _platform_url(bank_dir)
        refused = _impostor_call(platform_dir, platform_url)
    return {
        "bank_dir": bank_dir,
        "platform_dir": platform_dir,
        "psi": psi,
        "train": train,
        "score": score,
        "parameters": parameters,
        "refused": refused,
    }


def _platform_url(bank_dir) -> str:
    log = (bank_dir.parent / "platform" / "platform-node.log").read_text()
    return log.split("node on ")[1].split(",")[0].strip()


def _impostor_call(platform_dir, platform_url) -> str:
    """A caller with a key the platform does not know is refused and told why."""
    impostor = NodeIdentity("bank", SigningKey.generate())
    platform_key = load_or_create_identity(platform_dir, "platform").signing_key.verify_key
    with PeerClient(platform_url, impostor, platform_key, "platform") as client:
        try:
            client.post_json("/psi/stolen/start", {"reveal": "both", "batch_size": 5000})
        except PeerError as error:
            return str(error)
    return "accepted"


def test_psi_finds_exactly_the_plain_intersection_on_both_sides(joint_run):
    bank = set(load_party(joint_run["bank_dir"], with_labels=True).ids)
    platform = set(load_party(joint_run["platform_dir"], with_labels=False).ids)
    job = joint_run["psi"]["job_id"]
    assert joint_run["psi"]["intersection"] == len(bank & platform)
    assert load_intersection(joint_run["bank_dir"], job) == sorted(bank & platform)
    assert load_intersection(joint_run["platform_dir"], job) == sorted(bank & platform)


def test_federated_auc_is_within_0_005_of_central_lr_on_the_joined_data(joint_run):
    bank = load_party(joint_run["bank_dir"], with_labels=True)
    platform = load_party(joint_run["platform_dir"], with_labels=False)
    ids = load_intersection(joint_run["bank_dir"], joint_run["psi"]["job_id"])
    joined = np.hstack(
        [bank.features[bank.rows_for(ids)], platform.features[platform.rows_for(ids)]]
    )
    labels = bank.labels[bank.rows_for(ids)]
    train = np.zeros(len(ids), dtype=bool)
    train[training_rows(len(ids), joint_run["parameters"])] = True
    scaler = Standardizer.fit(joined[train])
    central = LogisticRegression(max_iter=2000).fit(scaler.transform(joined[train]), labels[train])
    central_auc = roc_auc_score(
        labels[~train], central.decision_function(scaler.transform(joined[~train]))
    )
    score = joint_run["score"]
    assert abs(score["auc_joint"] - central_auc) < 0.005
    assert score["auc_joint"] > score["auc_bank_only"] + 0.02  # the platform's columns add lift
    scores = pl.read_parquet(score["scores_file"])
    assert scores.height == len(ids) and scores["pd"].is_between(0, 1).all()


def test_each_node_keeps_a_verified_audit_trail_of_every_joint_job(joint_run):
    for folder, role in ((joint_run["bank_dir"], "bank"), (joint_run["platform_dir"], "platform")):
        path = folder / "audit.jsonl"
        verify_audit_file(path)
        events = [record["event"] for record in read_audit_file(path)]
        assert {"psi.start", "psi.finish", "lr.start", "lr.finish"} <= set(events), role
    platform_events = read_audit_file(joint_run["platform_dir"] / "audit.jsonl")
    assert any(record["event"] == "auth.refused" for record in platform_events)


def test_a_request_signed_with_an_unknown_key_is_refused_over_http(joint_run):
    assert "401" in joint_run["refused"] and "bad signature" in joint_run["refused"]


def test_training_reports_its_cost(joint_run):
    train = joint_run["train"]
    assert train["iterations"] == 40 and train["bank_features"] == train["platform_features"] == 20
    assert train["bytes_per_iteration"] > 0 and train["seconds_per_iteration"] > 0


def _date_the_rows(folder, with_labels: bool) -> None:
    """Give each firm of a synthetic table a month: the same firm, the same month on both sides;
    the bank's rows of the newest month lose their label (today's firms, to be scored)."""
    frame = pl.read_parquet(folder / "party.parquet")
    months = ["2024-07-01", "2024-10-01", "2025-01-01", "2025-04-01", "2026-07-01"]
    month = pl.col("id").hash(seed=3) % len(months)
    frame = frame.with_columns(
        pl.concat_str([pl.col("id"), pl.lit("@"), month.replace_strict(range(5), months)])
    )
    if with_labels:
        today = pl.col("id").str.ends_with("2026-07-01")
        frame = frame.with_columns(
            pl.when(today).then(None).otherwise(pl.col("label")).cast(pl.Float64)
        )
    frame.write_parquet(folder / "party.parquet")


@pytest.fixture(scope="module")
def time_split_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("federated-time")
    bank_dir, platform_dir = root / "bank", root / "platform"
    split_synthetic(bank_dir, platform_dir, firms=3000, seed=12)
    _date_the_rows(bank_dir, with_labels=True)
    _date_the_rows(platform_dir, with_labels=False)
    parameters = TrainingParameters(
        iterations=10, train_before="2025-01-01", score_from="2026-07-01"
    )
    with running_pair(bank_dir, platform_dir) as bank_url:
        psi = control(bank_dir, bank_url, "psi", {"reveal": "both", "batch_size": 1000})
        train = control(
            bank_dir,
            bank_url,
            "train",
            {"psi_job": psi["job_id"], "parameters": parameters.__dict__},
        )
        score = control(
            bank_dir, bank_url, "score", {"model_job": train["job_id"], "psi_job": psi["job_id"]}
        )
    return {"bank_dir": bank_dir, "psi": psi, "train": train, "score": score}


def test_time_split_trains_on_earlier_months_tests_on_later_and_scores_today_unlabelled(
    time_split_run,
):
    ids = load_intersection(time_split_run["bank_dir"], time_split_run["psi"]["job_id"])
    dates = [identifier.split("@")[1] for identifier in ids]
    earlier = sum(day < "2025-01-01" for day in dates)
    today = sum(day == "2026-07-01" for day in dates)
    assert time_split_run["train"]["rows"] == earlier  # both nodes agreed on the same rows
    scores = pl.read_parquet(time_split_run["score"]["scores_file"])
    roles = dict(zip(scores["id"], scores["role"], strict=True))
    assert all(roles[i] == "train" for i, day in zip(ids, dates, strict=True) if day < "2025-01")
    assert all(roles[i] == "score" for i, day in zip(ids, dates, strict=True) if day > "2026")
    assert time_split_run["score"]["score_only_rows"] == today > 0
    assert time_split_run["score"]["holdout_rows"] == len(ids) - earlier - today
    assert scores.filter(pl.col("role") == "score")["pd"].is_between(0, 1).all()
    assert 0.5 < time_split_run["score"]["auc_joint"] <= 1.0
