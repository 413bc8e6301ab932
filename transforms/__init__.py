"""The visit rules as pure Polars functions: frames in, frames out, no I/O."""
