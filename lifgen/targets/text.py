"""Free text made safe for the comments of generated files (C, Makefiles, CMake)."""


def comment_text(text: object) -> str:
    """One line, no comment delimiters, trigraphs or line splice: safe inside a C comment or a
    Makefile or CMake comment line."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    for old, new in (("*/", "* /"), ("/*", "/ *"), ("??", "? ?")):
        while old in text:
            text = text.replace(old, new)
    return text.rstrip(" \\")
