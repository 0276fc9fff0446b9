"""`reconciler watch`: Zoom's signed webhooks, a durable queue, and one worker that re-plans (and
with --heal repairs) only the targets an event touches."""
