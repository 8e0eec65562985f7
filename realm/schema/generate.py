#!/usr/bin/env python3
"""Generate realm/realm.schema.json from Keycloak's representation classes.

Usage (see realm/schema/README.md):

    python3 realm/schema/generate.py KEYCLOAK_REPRESENTATIONS_DIR \
        --version 26.2 --source "keycloak/keycloak release/26.2 ..." > realm/realm.schema.json

KEYCLOAK_REPRESENTATIONS_DIR is `core/src/main/java/org/keycloak/representations` of a Keycloak
checkout at the wanted tag (its `idm/`, `idm/authorization/` and `userprofile/` packages are read).

The JSON names a field has are the ones Jackson binds when Keycloak reads a realm (Jackson 2 defaults,
as Keycloak's mapper uses them):
- a property comes from a setter `setX(T)` (any return type), from a getter `getX()` (or `isX()`
  returning the primitive `boolean`) when a field of the same name exists (the field is then the
  mutator) or when its type is a collection or a map (getters as setters), from a public field, and
  from a parameter of a `@JsonCreator` constructor;
- its name is the accessor's with the prefix removed and the leading capitals lower-cased
  (`getOAuth2DeviceCodeLifespan` -> `oauth2DeviceCodeLifespan`), unless `@JsonProperty("x")` or
  `@JsonSetter("x")` renames it;
- `@JsonIgnore` on any of its accessors removes it (Jackson then ignores it on input, and so does
  never write it; a realm file that sets it is refused here as a mistake);
- `@Deprecated` fields stay: Keycloak still reads them, and older exports carry some;
- a class with `@JsonIgnoreProperties(ignoreUnknown = true)` or an `@JsonAnySetter` takes any other
  field (`additionalProperties: true`); every other class is bound strictly
  (`additionalProperties: false`), as Keycloak refuses an unknown field there;
- a value may always be `null` (Jackson leaves the field unset).
"""

import argparse
import json
import os
import re
import sys

SCALARS = {
    "String": "string", "char": "string", "Character": "string", "UUID": "string", "URI": "string",
    "int": "integer", "Integer": "integer", "long": "integer", "Long": "integer",
    "short": "integer", "Short": "integer", "byte": "integer", "Byte": "integer",
    "BigInteger": "integer",
    "double": "number", "Double": "number", "float": "number", "Float": "number",
    "BigDecimal": "number", "Number": "number",
    "boolean": "boolean", "Boolean": "boolean",
}
COLLECTIONS = {"List", "Set", "Collection", "LinkedList", "ArrayList", "HashSet", "LinkedHashSet",
               "SortedSet", "TreeSet", "Iterable"}
MAPS = {"Map", "HashMap", "LinkedHashMap", "TreeMap", "SortedMap", "ConcurrentHashMap"}
MULTI_MAPS = {"MultivaluedHashMap", "MultivaluedMap"}
ANY = {"Object", "JsonNode", "Serializable", "ObjectNode"}
# Custom deserializers Keycloak puts on a field, and what they accept.
DESERIALIZERS = {
    # A map whose values are a string or a list of strings (user and resource attributes).
    "StringListMapDeserializer": {
        "type": ["object", "null"],
        "additionalProperties": {
            "type": ["array", "string", "null"],
            "items": {"type": ["string", "null"]},
        },
    },
}

TOKEN = re.compile(
    r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|//[^\n]*|/\*.*?\*/|.', re.S)


def strip_comments(text):
    """Remove comments; string literals are kept (they may hold `//` or braces)."""
    out = []
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith("//") or tok.startswith("/*"):
            out.append(" ")
        else:
            out.append(tok)
    return "".join(out)


def blank_strings(text):
    """Replace the inside of string literals by spaces, so braces in them do not count."""
    return re.sub(r'"(?:\\.|[^"\\])*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', text)


def matching_brace(text, start):
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced braces")


ANNOTATION = re.compile(r'@([\w.]+)\s*(\((?:[^()]|\([^()]*\))*\))?')


def annotations_of(header):
    """{name: argument text} of a member header, and the header without them."""
    found = {}
    for m in ANNOTATION.finditer(header):
        found[m.group(1).split(".")[-1]] = (m.group(2) or "")[1:-1].strip()
    return found, ANNOTATION.sub(" ", header)


def annotation_name(arg):
    """The name given in `@JsonProperty("x")` / `@JsonProperty(value = "x")`, if any."""
    m = re.search(r'"([^"]*)"', arg or "")
    return m.group(1) if m and m.group(1) else None


def split_top(text, sep=","):
    """Split on `sep` outside angle brackets and parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def parse_type(text):
    """`Map<String, List<String>>` -> ("Map", [("String", []), ("List", [("String", [])])])."""
    text = text.strip()
    arrays = 0
    while text.endswith("[]"):
        text = text[:-2].strip()
        arrays += 1
    if text.endswith("..."):
        text = text[:-3].strip()
        arrays += 1
    m = re.match(r'([\w.?]+)\s*(?:<(.*)>)?$', text, re.S)
    if not m:
        raise ValueError(f"cannot read type {text!r}")
    name = m.group(1).split(".")[-1]
    args = [parse_type(a) for a in split_top(m.group(2))] if m.group(2) else []
    t = (name, args)
    for _ in range(arrays):
        t = ("List", [t])
    return t


class JavaClass:
    def __init__(self, name, extends, class_annotations):
        self.name = name
        self.extends = extends
        self.class_annotations = class_annotations
        self.fields = []  # (name, type, annotations, public)
        self.methods = []  # (name, [(param type, param annotations)], return type, annotations)
        self.enum_constants = None


def parse_members(cls, body):
    """Walk the top level of a class body: fields end with `;`, methods and nested types with a
    braced body (nested types are parsed as classes of their own)."""
    nested = []
    i, header = 0, ""
    while i < len(body):
        ch = body[i]
        if ch == "{":
            end = matching_brace(body, i)
            h = header.strip()
            if re.search(r'\b(class|enum|interface|record)\s+\w+', h):
                nested.append((h, body[i + 1:end]))
            elif h:
                add_method(cls, h)
            header = ""
            i = end + 1
            continue
        if ch == ";":
            h = header.strip()
            if h:
                add_field_or_method(cls, h)
            header = ""
        elif (ch == "=" and header.count("(") == header.count(")")
              and "(" not in annotations_of(header)[1] and body[i + 1] != "="):
            # A field initialiser: skip to the end of the statement (it may hold braces).
            depth, j = 0, i + 1
            while j < len(body) and not (body[j] == ";" and depth == 0):
                depth += body[j] in "({[" and 1 or 0
                depth -= body[j] in ")}]" and 1 or 0
                j += 1
            add_field_or_method(cls, header.strip())
            header = ""
            i = j + 1
            continue
        else:
            header += ch
        i += 1
    return nested


MODIFIERS = re.compile(r'\b(public|protected|private|static|final|transient|volatile|abstract|'
                       r'synchronized|native|default)\b')


def add_field_or_method(cls, header):
    if "(" in annotations_of(header)[1]:
        add_method(cls, header)
        return
    anns, rest = annotations_of(header)
    if re.search(r'\bstatic\b', rest):
        return
    public = bool(re.search(r'\bpublic\b', rest))
    rest = MODIFIERS.sub(" ", rest).strip()
    m = re.match(r'(.+?)\s+(\w+)$', rest, re.S)
    if not m:
        return
    cls.fields.append((m.group(2), parse_type(m.group(1)), anns, public))


def add_method(cls, header):
    open_paren = header.index("(") if "(" in header else -1
    if open_paren < 0:
        return  # an initialiser block
    close = header.rindex(")")
    params_text = header[open_paren + 1:close]
    anns, before = annotations_of(header[:open_paren])
    if re.search(r'\bstatic\b', before):
        return
    before = MODIFIERS.sub(" ", before).strip()
    before = re.sub(r'^<[^>]*(?:<[^>]*>[^>]*)*>\s*', "", before)  # method type parameters
    m = re.match(r'(?:(.+?)\s+)?(\w+)$', before, re.S)
    if not m:
        return
    params = []
    for p in split_top(params_text):
        p_anns, p_rest = annotations_of(p)
        p_rest = re.sub(r'\bfinal\b', " ", p_rest).strip()
        pm = re.match(r'(.+?)\s+(\w+)$', p_rest, re.S)
        if pm:
            params.append((parse_type(pm.group(1)), p_anns))
    ret = parse_type(m.group(1)) if m.group(1) and m.group(1) != "void" else None
    cls.methods.append((m.group(2), params, ret, anns))


def parse_type_declaration(header, body, classes):
    anns, rest = annotations_of(header)
    m = re.search(r'\b(class|enum|interface|record)\s+(\w+)(?:\s*<[^{]*?>)?'
                  r'(?:\s+extends\s+([\w.]+))?', rest)
    kind, name, extends = m.group(1), m.group(2), m.group(3)
    cls = JavaClass(name, extends.split(".")[-1] if extends else None, anns)
    if kind == "enum":
        constants = body.split(";", 1)[0]
        cls.enum_constants = [c.group(1) for c in
                              re.finditer(r'(?:^|,)\s*(?:@\w+\s*)*([A-Z_][A-Z0-9_]*)\b', constants)]
        body = body.split(";", 1)[1] if ";" in body else ""
    if kind == "interface":
        return
    for h, b in parse_members(cls, body):
        parse_type_declaration(h, b, classes)
    classes.setdefault(name, cls)


def parse_file(path, classes):
    text = blank_strings(strip_comments(open(path, encoding="utf-8").read()))
    # Keep annotation strings: they were blanked above, so read them from the original text.
    original = strip_comments(open(path, encoding="utf-8").read())
    m = re.search(r'^(?:@[^\n]*\n)*\s*public\s+(?:abstract\s+|final\s+)*(class|enum|interface)\s+\w+',
                  original, re.M)
    if not m:
        return
    start = original.index("{", m.end())
    header = original[m.start():start]
    end = matching_brace(text, start)
    # Member headers need their annotation strings: walk the original with blanked braces.
    body = mask_braces_in_strings(original[start + 1:end])
    parse_type_declaration(header, body, classes)


def mask_braces_in_strings(text):
    return re.sub(r'"(?:\\.|[^"\\])*"',
                  lambda s: s.group(0).replace("{", "(").replace("}", ")").replace(";", ","),
                  text)


def mangle(name):
    """Jackson's default: strip nothing more, lower-case the leading capitals."""
    out, i = "", 0
    while i < len(name) and name[i].isupper():
        out += name[i].lower()
        i += 1
    return out + name[i:]


def is_container(t):
    return t[0] in COLLECTIONS or t[0] in MAPS or t[0] in MULTI_MAPS


def properties_of(cls):
    """Jackson's deserialisable properties of one class (not its parents): {json name: type}."""
    groups = {}  # implicit name -> {"field", "getter", "setter", "creator", "rename", "ignored"}

    def group(name):
        return groups.setdefault(name, {"rename": None, "ignored": False})

    def note(g, anns):
        if "JsonIgnore" in anns and anns["JsonIgnore"] != "false":
            g["ignored"] = True
        for key in ("JsonProperty", "JsonSetter"):
            if key in anns:
                g["rename"] = annotation_name(anns[key]) or g["rename"]
                g["explicit"] = True
        if "JsonDeserialize" in anns:
            using = re.search(r'using\s*=\s*(\w+)', anns["JsonDeserialize"])
            if using:
                g["deserializer"] = using.group(1)

    for name, t, anns, public in cls.fields:
        g = group(name)
        g["field"] = t
        g["field_visible"] = public or "JsonProperty" in anns
        note(g, anns)
    for name, params, ret, anns in cls.methods:
        if name == cls.name:
            if "JsonCreator" in anns:
                for ptype, panns in params:
                    pname = annotation_name(panns.get("JsonProperty"))
                    if pname:
                        group(pname)["creator"] = ptype
            continue
        if re.match(r'set[A-Z0-9_]', name) and len(params) == 1:
            g = group(mangle(name[3:]))
            g["setter"] = params[0][0]
        elif re.match(r'get[A-Z0-9_]', name) and not params and ret:
            g = group(mangle(name[3:]))
            g["getter"] = ret
        elif re.match(r'is[A-Z0-9_]', name) and not params and ret == ("boolean", []):
            g = group(mangle(name[2:]))
            g["getter"] = ret
        elif anns.get("JsonProperty") is not None or "JsonSetter" in anns:
            g = group(name)
            g["setter" if params else "getter"] = params[0][0] if params else ret
        else:
            continue
        note(g, anns)

    props = {}
    for implicit, g in groups.items():
        if g["ignored"] and not g.get("explicit"):
            continue
        readable = (
            "setter" in g or "creator" in g
            or g.get("field_visible")
            or ("getter" in g and ("field" in g or is_container(g["getter"])))
        )
        if not readable:
            continue
        t = g.get("setter") or g.get("creator") or g.get("field") or g.get("getter")
        props[g["rename"] or implicit] = (t, g.get("deserializer"))
    return props


class SchemaBuilder:
    def __init__(self, classes):
        self.classes = classes
        self.defs = {}

    def class_schema(self, name):
        if name in self.defs:
            return
        self.defs[name] = None  # recursion guard (GroupRepresentation holds subGroups)
        cls = self.classes[name]
        chain, c = [], cls
        while c is not None:
            chain.append(c)
            c = self.classes.get(c.extends) if c.extends else None
        props, open_ended = {}, False
        for c in reversed(chain):  # parents first: a subclass may redeclare a property
            props.update(properties_of(c))
            ignore = c.class_annotations.get("JsonIgnoreProperties", "")
            open_ended |= bool(re.search(r'ignoreUnknown\s*=\s*true', ignore))
            open_ended |= any("JsonAnySetter" in anns for _, _, _, anns in c.methods)
        schema = {
            "title": name,
            "type": ["object", "null"],
            "properties": {},
            "additionalProperties": open_ended,
        }
        for pname in sorted(props):
            t, deserializer = props[pname]
            schema["properties"][pname] = (
                DESERIALIZERS[deserializer] if deserializer in DESERIALIZERS
                else self.type_schema(t)
            )
        self.defs[name] = schema

    def type_schema(self, t):
        name, args = t
        if name in SCALARS:
            return {"type": [SCALARS[name], "null"]}
        if name in COLLECTIONS:
            return {"type": ["array", "null"], "items": self.type_schema(args[0]) if args else {}}
        if name in MAPS:
            return {"type": ["object", "null"],
                    "additionalProperties": self.type_schema(args[1]) if len(args) > 1 else {}}
        if name in MULTI_MAPS:
            item = self.type_schema(args[1]) if len(args) > 1 else {}
            return {"type": ["object", "null"],
                    "additionalProperties": {"type": ["array", "null"], "items": item}}
        cls = self.classes.get(name)
        if cls is not None and cls.enum_constants is not None:
            return {"enum": cls.enum_constants + [None]}
        if cls is not None:
            self.class_schema(name)
            return {"$ref": f"#/$defs/{name}"}
        if name not in ANY and not (len(name) == 1 and name.isupper()):
            print(f"note: type {name} is not among the classes read; any value is accepted",
                  file=sys.stderr)
        return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("representations", help="core/src/main/java/org/keycloak/representations")
    ap.add_argument("--version", required=True, help="the Keycloak version, e.g. 26.2")
    ap.add_argument("--source", required=True,
                    help="where the classes were read: repository, tag or branch, commit")
    ap.add_argument("--root", default="RealmRepresentation")
    args = ap.parse_args()

    classes = {}
    for dirpath, _, files in sorted(os.walk(args.representations)):
        for f in sorted(files):
            if f.endswith(".java"):
                parse_file(os.path.join(dirpath, f), classes)
    builder = SchemaBuilder(classes)
    builder.class_schema(args.root)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://iamstack.invalid/realm.schema.json",
        "title": f"Keycloak {args.version} realm file ({args.root})",
        "$comment": "Generated by realm/schema/generate.py from Keycloak's representation "
                    "classes; do not edit by hand (see realm/schema/README.md).",
        "x-keycloak": {
            "version": args.version,
            "source": args.source,
            "classes": sorted(builder.defs),
        },
        "$ref": f"#/$defs/{args.root}",
        "$defs": {k: builder.defs[k] for k in sorted(builder.defs)},
    }
    json.dump(schema, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
