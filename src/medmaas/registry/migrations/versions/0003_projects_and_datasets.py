"""Projects own their build jobs; encrypted datasets.

Build jobs gain the project they build for (existing ones are the default project's built-in
models). Datasets are stored as encrypted artifact blobs; this table holds what is needed to
find and decrypt them (the data key wrapped under a key-encryption key) and nothing that is
patient data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("build_jobs") as batch:
        batch.add_column(sa.Column("project", sa.String(64), nullable=False, server_default="default"))
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("plaintext_sha256", sa.String(64), nullable=False),
        sa.Column("ciphertext_sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("columns", sa.Integer(), nullable=True),
        sa.Column("kek_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.String(200), nullable=False),
        _ts("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["project"], ["projects.name"], name="fk_datasets_project_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.UniqueConstraint("uid", name="uq_datasets_uid"),
        sa.UniqueConstraint("project", "name", name="uq_datasets_project_name"),
    )


def downgrade() -> None:
    op.drop_table("datasets")
    with op.batch_alter_table("build_jobs") as batch:
        batch.drop_column("project")
