"""A small hand-written GraphQL subset: one operation (query or mutation, optionally named, with
variables), fields with aliases and arguments, nested selections and __typename. No fragments,
directives or introspection. Fields are validated against the static schema in SCHEMA before
anything runs, so an unknown field never has side effects."""
import re


class GraphQLError(Exception):
    def __init__(self, message, line=None, column=None, path=None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.path = path

    def as_dict(self):
        out = {"message": self.message}
        if self.line is not None:
            out["locations"] = [{"line": self.line, "column": self.column}]
        if self.path is not None:
            out["path"] = self.path
        return out


_TOKEN = re.compile(r"""
    (?P<ws>[\s,\ufeff]+|\#[^\n]*)
  | (?P<spread>\.\.\.)
  | (?P<punct>[!$&():=@\[\]{}|])
  | (?P<name>[_A-Za-z][_0-9A-Za-z]*)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
  | (?P<block>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
""", re.VERBOSE)

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(raw):
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "u" and i + 5 < len(raw):
                out.append(chr(int(raw[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokenize(source):
    tokens, pos, line, line_start = [], 0, 1, 0
    while pos < len(source):
        match = _TOKEN.match(source, pos)
        if not match:
            raise GraphQLError("Syntax Error: unexpected character %r" % source[pos], line, pos - line_start + 1)
        kind = match.lastgroup
        text = match.group(kind)
        column = pos - line_start + 1
        if kind != "ws":
            if kind == "string":
                tokens.append(("string", _unescape(text[1:-1]), line, column))
            elif kind == "block":
                tokens.append(("string", text[3:-3], line, column))
            else:
                tokens.append((kind, text, line, column))
        newlines = text.count("\n")
        if newlines:
            line += newlines
            line_start = pos + text.rfind("\n") + 1
        pos = match.end()
    tokens.append(("eof", "", line, pos - line_start + 1))
    return tokens


class Field:
    def __init__(self, name, alias, arguments, selections, line, column):
        self.name = name
        self.alias = alias or name
        self.arguments = arguments
        self.selections = selections
        self.line = line
        self.column = column


class Variable:
    def __init__(self, name):
        self.name = name


class Parser:
    def __init__(self, source):
        self.tokens = tokenize(source)
        self.i = 0

    def peek(self, kind=None, value=None):
        tok = self.tokens[self.i]
        if kind and tok[0] != kind:
            return False
        if value is not None and tok[1] != value:
            return False
        return True

    def take(self, kind=None, value=None):
        tok = self.tokens[self.i]
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            want = value or kind
            got = tok[1] or "<EOF>"
            raise GraphQLError("Syntax Error: Expected %s, found %s." % (want, got), tok[2], tok[3])
        self.i += 1
        return tok

    def document(self):
        operations = []
        while not self.peek("eof"):
            if self.peek("name", "fragment") or self.peek("spread"):
                tok = self.tokens[self.i]
                raise GraphQLError("fragments are not supported by this server", tok[2], tok[3])
            operations.append(self.operation())
        if not operations:
            raise GraphQLError("Syntax Error: Unexpected <EOF>.", 1, 1)
        return operations

    def operation(self):
        tok = self.tokens[self.i]
        if self.peek("punct", "{"):
            return {"type": "query", "name": None, "variables": {}, "selections": self.selection_set()}
        op_type = self.take("name")[1]
        if op_type not in ("query", "mutation"):
            raise GraphQLError("Syntax Error: unsupported operation type %r" % op_type, tok[2], tok[3])
        name = self.take("name")[1] if self.peek("name") else None
        variables = {}
        if self.peek("punct", "("):
            self.take("punct", "(")
            while not self.peek("punct", ")"):
                self.take("punct", "$")
                var_name = self.take("name")[1]
                self.take("punct", ":")
                self.type_ref()
                default = None
                if self.peek("punct", "="):
                    self.take("punct", "=")
                    default = self.value(const=True)
                variables[var_name] = default
            self.take("punct", ")")
        if self.peek("punct", "@"):
            tok = self.tokens[self.i]
            raise GraphQLError("directives are not supported by this server", tok[2], tok[3])
        return {"type": op_type, "name": name, "variables": variables, "selections": self.selection_set()}

    def type_ref(self):
        if self.peek("punct", "["):
            self.take("punct", "[")
            self.type_ref()
            self.take("punct", "]")
        else:
            self.take("name")
        if self.peek("punct", "!"):
            self.take("punct", "!")

    def selection_set(self):
        self.take("punct", "{")
        fields = []
        while not self.peek("punct", "}"):
            if self.peek("spread"):
                tok = self.tokens[self.i]
                raise GraphQLError("fragments are not supported by this server", tok[2], tok[3])
            fields.append(self.field())
        self.take("punct", "}")
        if not fields:
            tok = self.tokens[self.i - 1]
            raise GraphQLError("Syntax Error: Expected Name, found }.", tok[2], tok[3])
        return fields

    def field(self):
        tok = self.take("name")
        alias, name = None, tok[1]
        if self.peek("punct", ":"):
            self.take("punct", ":")
            alias, name = name, self.take("name")[1]
        arguments = {}
        if self.peek("punct", "("):
            self.take("punct", "(")
            while not self.peek("punct", ")"):
                arg = self.take("name")[1]
                self.take("punct", ":")
                arguments[arg] = self.value()
            self.take("punct", ")")
        if self.peek("punct", "@"):
            at = self.tokens[self.i]
            raise GraphQLError("directives are not supported by this server", at[2], at[3])
        selections = self.selection_set() if self.peek("punct", "{") else None
        return Field(name, alias, arguments, selections, tok[2], tok[3])

    def value(self, const=False):
        tok = self.tokens[self.i]
        kind, text = tok[0], tok[1]
        if kind == "punct" and text == "$" and not const:
            self.take()
            return Variable(self.take("name")[1])
        if kind == "string":
            self.take()
            return text
        if kind == "number":
            self.take()
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "name":
            self.take()
            return {"true": True, "false": False, "null": None}.get(text, text)
        if kind == "punct" and text == "[":
            self.take()
            items = []
            while not self.peek("punct", "]"):
                items.append(self.value(const))
            self.take("punct", "]")
            return items
        if kind == "punct" and text == "{":
            self.take()
            obj = {}
            while not self.peek("punct", "}"):
                key = self.take("name")[1]
                self.take("punct", ":")
                obj[key] = self.value(const)
            self.take("punct", "}")
            return obj
        raise GraphQLError("Syntax Error: Unexpected %s." % (text or "<EOF>"), tok[2], tok[3])


def _resolve_variables(value, variables):
    if isinstance(value, Variable):
        if value.name not in variables:
            raise GraphQLError("Variable \"$%s\" is not defined." % value.name)
        return variables[value.name]
    if isinstance(value, list):
        return [_resolve_variables(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: _resolve_variables(v, variables) for k, v in value.items()}
    return value


class Schema:
    """types: {TypeName: {field: "Scalar" | "Type" | "[Type]"}};
    roots: {"query"|"mutation": {field: (return type, {argument names}, resolver)}}"""

    def __init__(self, types, roots):
        self.types = types
        self.roots = roots

    def _validate(self, fields, type_name, errors):
        allowed = self.types[type_name]
        for field in fields:
            if field.name == "__typename":
                continue
            if field.name not in allowed:
                errors.append(GraphQLError("Cannot query field \"%s\" on type \"%s\"." % (field.name, type_name),
                                           field.line, field.column))
                continue
            if field.arguments:
                errors.append(GraphQLError("Unknown argument \"%s\" on field \"%s.%s\"."
                                           % (next(iter(field.arguments)), type_name, field.name),
                                           field.line, field.column))
            self._validate_type(field, allowed[field.name], errors)

    def _validate_type(self, field, type_ref, errors):
        inner = type_ref.strip("[]")
        if inner in self.types:
            if field.selections is None:
                errors.append(GraphQLError("Field \"%s\" of type \"%s\" must have a selection of subfields."
                                           % (field.name, type_ref), field.line, field.column))
            else:
                self._validate(field.selections, inner, errors)
        elif field.selections is not None:
            errors.append(GraphQLError("Field \"%s\" must not have a selection since type \"%s\" has no subfields."
                                       % (field.name, type_ref), field.line, field.column))

    def execute(self, source, variables=None, operation_name=None, context=None):
        """Returns the response dict: {"data": ...} and/or {"errors": [...]}."""
        try:
            operations = Parser(source).document()
        except GraphQLError as exc:
            return {"errors": [exc.as_dict()]}
        if operation_name:
            operations = [op for op in operations if op["name"] == operation_name]
            if not operations:
                return {"errors": [{"message": "Unknown operation named \"%s\"." % operation_name}]}
        if len(operations) != 1:
            return {"errors": [{"message": "Must provide operation name if query contains multiple operations."}]}
        op = operations[0]
        root_name = "Query" if op["type"] == "query" else "Mutation"
        roots = self.roots[op["type"]]
        errors = []
        for field in op["selections"]:
            if field.name == "__typename":
                continue
            if field.name not in roots:
                errors.append(GraphQLError("Cannot query field \"%s\" on type \"%s\"." % (field.name, root_name),
                                           field.line, field.column))
                continue
            type_ref, arg_names, _ = roots[field.name]
            known = {a.rstrip("!") for a in arg_names}
            for arg in field.arguments:
                if arg not in known:
                    errors.append(GraphQLError("Unknown argument \"%s\" on field \"%s.%s\"." % (arg, root_name, field.name),
                                               field.line, field.column))
            for arg in arg_names:
                if arg.endswith("!") and arg[:-1] not in field.arguments:
                    errors.append(GraphQLError("Field \"%s.%s\" argument \"%s\" is required, but it was not provided."
                                               % (root_name, field.name, arg[:-1]), field.line, field.column))
            self._validate_type(field, type_ref, errors)
        if errors:
            return {"errors": [e.as_dict() for e in errors]}
        values = dict(op["variables"])
        values.update(variables or {})
        data, errors = {}, []
        for field in op["selections"]:
            if field.name == "__typename":
                data[field.alias] = root_name
                continue
            type_ref, _, resolver = roots[field.name]
            try:
                args = {k: _resolve_variables(v, values) for k, v in field.arguments.items()}
                result = resolver(context, **args)
                data[field.alias] = self._project(result, field.selections, type_ref)
            except GraphQLError as exc:
                exc.line, exc.column, exc.path = field.line, field.column, [field.alias]
                errors.append(exc)
                data[field.alias] = None
        response = {"data": data}
        if errors:
            response["errors"] = [e.as_dict() for e in errors]
        return response

    def _project(self, value, selections, type_ref):
        if value is None or selections is None:
            return value
        inner = type_ref.strip("[]")
        if type_ref.startswith("["):
            return [self._project(item, selections, inner) for item in value]
        out = {}
        for field in selections:
            if field.name == "__typename":
                out[field.alias] = inner
            else:
                out[field.alias] = self._project(value.get(field.name), field.selections, self.types[inner][field.name])
        return out
