"""Attention kernels with fused entropy statistics; `dispatch.attention` is the entry point."""
