"""The resource builders: one module per concern, each `add_*(template, ctx, props...)`
adding its resources and returning the refs the next builders need (see
docs/architecture.md). `vocabulary/` is what every builder shares."""
