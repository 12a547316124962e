"""A small province for the workbench and API tests: lake, feature snapshot, store, users.

About 500 firms over 24 months, ingested, one feature snapshot, the store migrated and seeded
from the lake, and one demo login per role (passwords returned, never printed).
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from sqlalchemy import select

from puhui.actions.access import AccessService
from puhui.actions.access.passwords import Passwords
from puhui.actions.access.service import DemoCredential
from puhui.cli.main import run
from puhui.data.ingest import ingest_directory
from puhui.data.lake import Lake
from puhui.data.simulate import build_config, simulate_province
from puhui.data.store import make_engine, make_session_factory
from puhui.data.store.tables import Enterprise
from puhui.features.catalog import load_feature_catalog
from puhui.features.engines import DuckDBEngine
from puhui.features.store import build_snapshots

AS_OF = date(2026, 1, 1)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def cheap_passwords() -> Passwords:
    """argon2id with test-sized cost, so hundreds of logins take milliseconds."""
    from argon2 import PasswordHasher

    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass(frozen=True)
class WorkbenchProvince:
    data_dir: Path
    credentials: dict[str, DemoCredential]

    @property
    def store_url(self) -> str:
        return f"sqlite:///{(self.data_dir / 'puhui.db').resolve()}"


def build_province(folder: Path, *, enterprises: int = 500, seed: int = 11) -> WorkbenchProvince:
    incoming = folder / "incoming"
    simulate_province(build_config(enterprises=enterprises, months=24, seed=seed), incoming)
    for truth in incoming.glob("truth_*.parquet"):
        truth.unlink()
    lake = Lake(folder / "lake")
    result = ingest_directory(lake, incoming, rejections_dir=folder / "rejections")
    assert result.ok
    build_snapshots(lake, load_feature_catalog(), [AS_OF], folder / "features", DuckDBEngine())
    assert run(["--data-dir", str(folder), "store", "upgrade"]) == 0
    assert run(["--data-dir", str(folder), "store", "seed"]) == 0
    assert run(["--data-dir", str(folder), "consent", "keys", "rotate"]) == 0
    engine = make_engine(f"sqlite:///{(folder / 'puhui.db').resolve()}")
    try:
        access = AccessService(make_session_factory(engine), passwords=cheap_passwords())
        credentials = {c.username: c for c in access.seed_demo_users()}
    finally:
        engine.dispose()
    return WorkbenchProvince(folder, credentials)


@cache
def shared_province() -> WorkbenchProvince:
    """One province per test process, shared by the API and page tests (removed at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="puhui-workbench-"))
    atexit.register(shutil.rmtree, folder, True)
    return build_province(folder)


def other_branch_firm(province: WorkbenchProvince, branch_ids: set[str]) -> str:
    """A customer booked outside ``branch_ids``."""
    engine = make_engine(province.store_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalars(
                select(Enterprise.uscc)
                .where(Enterprise.is_customer.is_(True), Enterprise.branch_id.not_in(branch_ids))
                .order_by(Enterprise.uscc)
            ).first()
    finally:
        engine.dispose()


def own_firm(province: WorkbenchProvince, staff_id: str) -> str:
    """A customer managed by ``staff_id``."""
    engine = make_engine(province.store_url)
    try:
        with make_session_factory(engine)() as session:
            return session.scalars(
                select(Enterprise.uscc)
                .where(Enterprise.account_manager_id == staff_id)
                .order_by(Enterprise.uscc)
            ).first()
    finally:
        engine.dispose()


def signed_in(app, province: WorkbenchProvince, username: str):  # type: ignore[no-untyped-def]
    """A test client signed in to the workbench as a demo user (login form with its CSRF)."""
    from fastapi.testclient import TestClient

    client = TestClient(app)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": province.credentials[username].password,
            "csrf": CSRF.search(form.text).group(1),
            "next": "/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client
