"""The C family: what the C and the cuda target share (the kernel context, the printer, the
template environment)."""
