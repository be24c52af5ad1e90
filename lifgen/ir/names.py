"""The names a model may give its quantities: identifiers safe in C, C++, Python and lifgen.

Checked wherever a name enters the IR (model files, from_sympy, synapse models), so that no
model name can collide with a keyword or with lifgen's own names in generated code.
"""

import keyword
import re

from ..errors import ModelError

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")  # whole names only: used with fullmatch

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn
_Static_assert _Thread_local alignas alignof bool constexpr false nullptr static_assert
thread_local true typeof typeof_unqual _BitInt _Decimal32 _Decimal64 _Decimal128
""".split())
CPP_KEYWORDS = frozenset("""
and and_eq asm bitand bitor catch class compl concept consteval constinit const_cast co_await
co_return co_yield decltype delete dynamic_cast explicit export friend mutable namespace new
noexcept not not_eq operator or or_eq private protected public reinterpret_cast requires
static_cast template this throw try typeid typename using virtual wchar_t xor xor_eq char8_t
char16_t char32_t
""".split())
# Names the generated C, libm and libc use, and names with a fixed meaning in model files.
RESERVED_NAMES = frozenset("""
t dt xi exp expm1 log log1p pow sqrt fabs fmin fmax sin cos tan tanh isnan isinf isfinite NAN
INFINITY HUGE_VAL M_PI M_E errno main abort exit malloc free step
""".split())
RESERVED_PREFIXES = ("lg_", "lifgen")


def check_name(name: str, source: str | None = None, field: str | None = None) -> str:
    """Raise ModelError unless `name` is a plain identifier safe to use in C, C++, Python and lifgen."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ModelError(
            f"{name!r} is not a valid name: use a letter, then letters, digits or '_' "
            "(at most 63 ASCII characters)", source, field)
    lowered = name.lower()
    if name in C_KEYWORDS or name in CPP_KEYWORDS or keyword.iskeyword(name):
        raise ModelError(f"{name!r} is a C, C++ or Python keyword and cannot name a quantity",
                         source, field)
    if name in RESERVED_NAMES or lowered.startswith(RESERVED_PREFIXES):
        raise ModelError(f"{name!r} is reserved by lifgen or the C library; choose another name",
                         source, field)
    return name
