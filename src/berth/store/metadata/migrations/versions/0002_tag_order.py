"""gallery tag order index

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 20:37:17.155893
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tags_repository_created", ["repository_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_index("ix_tags_repository_created")
