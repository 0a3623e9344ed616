-- Versions written to the Triton model repository (deployment stage). A row exists from the start of a
-- deploy until its undeploy finishes; a failed deploy keeps its row (state failed, with the error) and
-- nothing in the repository.
CREATE TABLE IF NOT EXISTS deployments (
    id text PRIMARY KEY,
    model text NOT NULL,
    version text NOT NULL,
    triton_model text NOT NULL,
    triton_version integer NOT NULL,
    state text NOT NULL CHECK (state IN ('deploying', 'ready', 'failed', 'undeploying')),
    export_parity double precision,
    served_parity double precision,
    error text,
    task_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model, version)
);
