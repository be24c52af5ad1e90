"""Write the hostile and broken model files of this folder (run from anywhere; rewrites them all).

Each file is a small valid model with one thing made hostile or broken: code in an expression,
a constant that would hang SymPy, a name that would break the C, text that would end a C comment,
broken TOML, a missing or mistyped field. Payloads that would run code try to create the file
`lifgen_canary` in the working directory; tests/test_hostile.py checks that it never appears.
"""

from pathlib import Path

HERE = Path(__file__).resolve().parent
TOUCH = "__import__('os').system('touch lifgen_canary')"

BASE = {
    "model": 'name = "hostile"\ndescription = "a leaky neuron"',
    "parameters": 'tau = { value = 10.0 }\nV_th = { value = 1.0 }',
    "states": 'V = { initial = 0.0 }',
    "inputs": 'I = {}',
    "equations": 'laws = ["dV/dt = (I - V)/tau"]',
    "spike": 'condition = "V > V_th"',
    "reset": 'mechanism = "zero"\ntiming = "same_step"\nzero = { V = "0" }',
    "simulation": 'method = "euler"\ndt = 0.1',
}


def model(**sections):
    """The base model with some sections replaced (None drops a section)."""
    merged = dict(BASE, **sections)
    return "\n\n".join(f"[{name}]\n{body}" for name, body in merged.items() if body is not None) + "\n"


def law(expression):
    return model(equations=f"laws = [{_toml_string('dV/dt = ' + expression)}]")


def _toml_string(text):
    return "'''" + text + "'''" if "'''" not in text and "\n" not in text else repr(text)


CODE = {  # expressions that would run code if evaluated
    "import_system": TOUCH,
    "lambda": f"(lambda: {TOUCH})()",
    "attribute_chain": "(1).__class__.__mro__[-1].__subclasses__()",
    "globals_escape": f"V.__class__.__new__.__globals__['__builtins__']['__import__']('os').system('touch lifgen_canary')",
    "symbol_globals": "Symbol.__new__.__globals__",
    "subscript": "V[0]",
    "list_comprehension": "[x for x in (1, 2)]",
    "generator": "sum(x for x in (1, 2))",
    "fstring": "f'{V}'",
    "string_literal": "'touch lifgen_canary'",
    "walrus": "(x := 1) + V",
    "keyword_argument": "exp(x=V)",
    "starred_argument": "exp(*V)",
    "open_call": "open('lifgen_canary', 'w')",
    "eval_call": f"eval({TOUCH!r})",
    "exec_call": "exec('1')",
    "getattr_call": "getattr(V, 'real')",
    "compile_call": "compile('1', 'f', 'eval')",
    "dunder_name": "__builtins__",
    "unknown_function": "system(V)",
    "method_call": "V.conjugate()",
    "conditional_expression": "V if V > 0 else 0",
    "bitwise_operators": "V << 2",
    "matrix_multiply": "V @ V",
    "floor_divide": "V // 2",
    "modulo": "V % 2",
    "complex_literal": "1j*V",
    "bool_literal": "True*V",
    "none_literal": "None",
    "ellipsis": "...",
    "set_literal": "{V}",
    "dict_literal": "{'a': V}",
    "tuple": "(V, V)",
    "await": "await V",
    "yield": "(yield V)",
    "semicolon": "V; import os",
    "backslash_continuation": "V \\\n+ 1",
    "nul_byte": "V\x00",
    "c_injection": "V); system(\"touch lifgen_canary\"); (V",
    "comment_injection": "V */ int evil; /*",
}

CONSTANTS = {  # constants that would hang SymPy or are not finite C doubles
    "power_tower": "((((((((9**16)**16)**16)**16)**16)**16)**16)**16)**16*V",
    "right_tower": "9**9**9**9*V",
    "huge_power": "10**100000*V",
    "huge_integer": "123456789012345678901234567890*V",
    "float_overflow": "1e400*V",
    "divide_by_zero": "V/0",
    "float_divide_by_zero": "40./+0.*V",
    "zero_over_zero": "0/0 + V",
    "log_of_zero": "log(0) + V",
    "sqrt_of_minus_one": "sqrt(-1)*V",
    "imaginary_power": "(-1)**0.5*V",
    "symbolic_huge_exponent": "V**100000",
    "inf_name": "inf*V",
    "nan_name": "nan + V",
    "oo_name": "oo*V",
    "zoo_name": "zoo*V",
    "exp_overflow": "exp(1000)*V",
}

SIZES = {  # too long, too deep, too many parts
    "deep_parentheses": "(" * 300 + "V" + ")" * 300,
    "many_unary_minus": "-" * 5000 + "V",
    "many_additions": "+".join(["V"] * 3000),
    "long_text": "V + " + "1.0*" * 2000 + "V",
    "deep_calls": "exp(" * 80 + "V" + ")" * 80,
}

NAMES = {  # a parameter with a name that would break the C or shadow lifgen's
    "keyword_int": "int", "keyword_double": "double", "keyword_restrict": "restrict",
    "keyword_class": "class", "keyword_while": "while", "libc_main": "main",
    "libm_exp": "exp", "libm_pow": "pow", "macro_NAN": "NAN", "errno": "errno",
    "time_t": "t", "time_step": "dt", "internal_prefix": "lg_tau", "internal_prefix_2": "lifgen_x",
    "leading_underscore": "_tau", "double_underscore": "__tau", "non_ascii": "\u03c4",
    "space": "ta u", "minus": "tau-1", "leading_digit": "1tau", "semicolon": "tau;x",
    "too_long": "t" + "a" * 80, "empty": "", "python_keyword": "lambda", "cpp_keyword": "new",
}

TEXT = {  # free text that would end a C comment or start a directive
    "description_ends_comment": 'name = "hostile"\ndescription = "*/ int evil = 1; /*"',
    "description_newline_include": 'name = "hostile"\ndescription = "a\\n#include </etc/passwd>\\n"',
    "description_trigraph": 'name = "hostile"\ndescription = "ends in a trigraph ??/"',
    "description_backslash": 'name = "hostile"\ndescription = "ends in a backslash \\\\"',
    "reference_ends_comment": 'name = "hostile"\nreference = "*/ #error broken /*"',
    "description_template": 'name = "hostile"\ndescription = "{{ cycler.__init__.__globals__.os.system(\'touch lifgen_canary\') }}"',
    "description_jinja_block": 'name = "hostile"\ndescription = "{% for x in range(10**9) %}x{% endfor %}"',
    "description_nul": 'name = "hostile"\ndescription = "nul \\u0000 byte"',
    "name_path": 'name = "../../etc/passwd"',
    "name_keyword": 'name = "int"',
    "name_comment": 'name = "*/ evil /*"',
    "description_huge": 'name = "hostile"\ndescription = "' + "x" * 20000 + '"',
}

BROKEN = {  # broken files and fields
    "empty": "",
    "not_toml": "this is not toml = = =",
    "binary": None,  # written as bytes below
    "unknown_section": model() + "\n[evil]\nx = 1\n",
    "unknown_key": model(model='name = "hostile"\nevil = 1'),
    "no_spike": model(spike=None),
    "no_states": model(states=None),
    "no_equations": model(equations=None),
    "bool_value": model(parameters="tau = { value = true }\nV_th = { value = 1.0 }"),
    "inf_value": model(parameters="tau = { value = inf }\nV_th = { value = 1.0 }"),
    "nan_value": model(parameters="tau = { value = nan }\nV_th = { value = 1.0 }"),
    "string_value": model(parameters='tau = { value = "ten" }\nV_th = { value = 1.0 }'),
    "array_value": model(parameters="tau = { value = [1, 2] }\nV_th = { value = 1.0 }"),
    "table_as_law": model(equations="laws = [{ a = 1 }]"),
    "laws_not_a_list": model(equations='laws = "dV/dt = -V"'),
    "law_without_derivative": model(equations='laws = ["V = I"]'),
    "law_for_unknown_state": model(equations='laws = ["dW/dt = -W/tau"]'),
    "undefined_name": law("(I - V)/tau + unknown"),
    "spike_without_comparison": model(spike='condition = "V + 1"'),
    "spike_chained_comparison": model(spike='condition = "0 < V < 1"'),
    "reset_unknown_state": model(reset='mechanism = "zero"\ntiming = "same_step"\nzero = { W = "0" }'),
    "reset_bad_mechanism": model(reset='mechanism = "explode"'),
    "reset_bad_timing": model(reset='mechanism = "zero"\ntiming = "yesterday"\nzero = { V = "0" }'),
    "bad_method": model(simulation='method = "magic"\ndt = 0.1'),
    "negative_dt": model(simulation='method = "euler"\ndt = -0.1'),
    "zero_dt": model(simulation='method = "euler"\ndt = 0'),
    "duplicate_name": model(states='V = { initial = 0.0 }\ntau = { initial = 1.0 }'),
    "case_duplicate": model(parameters="tau = { value = 10.0 }\nTau = { value = 1.0 }\nV_th = { value = 1.0 }"),
    "relation_in_law": law("(I - V)/tau > 0"),
    "comparison_in_initial": model(states='V = { initial = "V_th > 0" }'),
    "initial_refers_to_itself": model(states='V = { initial = "V + 1" }'),
    "circular_expressions": model(equations='laws = ["dV/dt = a"]') + '\n[expressions]\na = "b"\nb = "a"\n',
    "expression_shadows_state": model(equations='laws = ["dV/dt = V"]') + '\n[expressions]\nV = "1"\n',
    "refractory_unknown_state": model(refractory='period = "2"\nfrozen = ["W"]'),
    "refractory_bad_period": model(refractory='period = "V > 1"'),
    "synapse_unknown_target": model() + '\n[synapses]\nexc = { target = "nowhere" }\n',
    "preset_unknown_parameter": model() + "\n[presets.fast]\nnothing = 1.0\n",
    "stiff_euler": model(simulation='method = "euler"\ndt = 100.0'),  # runs: warns, reports NaN/inf
    "exp_blowup": law("exp(V) + I"),  # runs: V overflows, which the run reports
}


def files():
    """(file name, text or bytes) of the whole corpus."""
    out = []
    for group, table, make in (("code", CODE, law), ("constant", CONSTANTS, law),
                               ("size", SIZES, law)):
        out += [(f"{group}_{name}", make(text)) for name, text in table.items()]
    out += [(f"name_{key}", model(parameters=f"{_toml_key(name)} = {{ value = 10.0 }}\nV_th = {{ value = 1.0 }}",
                                  equations=f"laws = [{_toml_string('dV/dt = (I - V)/' + (name or 'x'))}]"))
            for key, name in NAMES.items()]
    out += [(f"text_{name}", model(model=body)) for name, body in TEXT.items()]
    out += [(f"broken_{name}", text) for name, text in BROKEN.items() if text is not None]
    out.append(("broken_binary", b"\xff\xfe\x00[model]\x00\x89PNG"))
    return out


def _toml_key(name):
    return name if name and name.replace("_", "a").isalnum() and name.isascii() else repr(name).replace("'", '"')


def main():
    for old in HERE.glob("*.toml"):
        old.unlink()
    corpus = files()
    for index, (name, text) in enumerate(corpus):
        path = HERE / f"{index:03d}_{name}.toml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    print(f"wrote {len(corpus)} files to {HERE}")


if __name__ == "__main__":
    main()
