"""Running migrations in a database (docs/design.md §5, §7): one schema's steps in one database,
pipelined and watched from a side connection, and the out-of-band migrations' batches and measured
progress."""
