"""From the applied sets and a target release to a `Plan`, and the plan arranged for reading and
exported as SQL or Markdown (docs/design.md §6). Pure: no connection."""
