"""Free text made safe for the comments of generated files (C, CUDA, Makefiles, CMake): the one
escaping filter (`comment` in the templates) every model-derived text goes through."""

# The template fields printed as they are, without the `comment` filter: generated code, C
# identifiers (checked names and the members and prefixes made of them), numbers and lifgen's
# own words. Every other field is text a model file or a user wrote and goes through the filter
# (tests/test_hardening3.py walks every template's `{{ ... }}` against this table).
CODE_FIELDS = frozenset({
    # generated code and C expressions (printed by the IR printers and lowering)
    "after_spike", "arguments", "body", "call", "code", "declaration", "default", "entries",
    "enum", "initial", "kernel", "network", "new", "parameters", "prologue", "struct", "unpack",
    "unread", "value", "dt_literal", "h", "levels", "one", "expm1", "fabs", "inline",
    "step_values", "constant", "real", "type", "types", "loop", "applied",
    # C identifiers: checked names, members, fields, the prefix and what is made of it
    "batch", "c", "entry", "field", "function", "guard", "held", "helper", "in_", "input",
    "member",
    "membrane", "membrane_member", "example_member", "name", "neuron", "param", "prefix",
    "row", "rows_suffix", "scratch", "state", "step", "stride", "tile", "time", "trace", "x",
    # numbers
    "amplitude", "copies", "count", "digits", "dt", "index0", "n_neurons", "n_steps", "size",
    "threads", "work_size", "first", "shift", "row_block",
    # elementary.c.j2's macros: an argument (a C expression), a polynomial's coefficient, its
    # terms grouped by Estrin's scheme (C expressions) and the libm calls of the comparison build
    "u", "v", "terms", "double_call", "float_call", "x_lo",
    # lifgen's version
    "version",
})
# pairs that would end or open a comment, or make a trigraph (??/ is a line splice)
CLOSERS = (("*/", "* /"), ("/*", "/ *"), ("??", "? ?"))


def comment_text(text: object) -> str:
    """One line, no comment delimiters, trigraphs or line splice, and no character that could
    join one with the template's text around it: safe inside a C or CUDA comment and a
    Makefile or CMake comment line."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    for old, new in CLOSERS:
        while old in text:
            text = text.replace(old, new)
    text = text.rstrip(" \\")
    return (" " if text[:1] in ("*", "/", "?") else "") + text + (
        " " if text[-1:] in ("*", "/", "?") else "")
