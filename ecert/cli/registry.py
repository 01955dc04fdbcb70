"""``ecert type list|show|publish``, ``ecert region list`` and ``ecert rules show|set-types|set-recognition``:
what the registry publishes, through the gateway.

A type file (``ecert type publish FILE.json``, admin) is one JSON object: ``id`` (lower-case,
dotted, e.g. ``test.permit``), ``version`` (1, then one more for each change), ``name``,
``schema`` (a JSON Schema of the fields: ``type: object``, ``properties``, ``required``,
``additionalProperties: false``, bounded strings) and ``disclosure`` (for each verifying role,
the fields it is shown). ``ecert type show ID --json`` prints one in that very form.
"""

from __future__ import annotations

from .common import OK, USAGE, CliError, client, gateway_options, print_json, read_json_object, table


# -- certificate types -----------------------------------------------------------------------------

def cmd_type_list(args) -> int:
    types = client(args).types()
    if args.json:
        print_json({"types": types})
        return OK
    table([[t["id"], str(t["version"]), t.get("name", ""), str(len((t.get("schema") or {}).get("properties") or {}))]
           for t in sorted(types, key=lambda t: (t["id"], t["version"]))], ["TYPE", "VERSION", "NAME", "FIELDS"])
    return OK


def cmd_type_show(args) -> int:
    t = client(args).type(args.id, args.version)
    if t is None:
        which = f"{args.id} v{args.version}" if args.version else args.id
        raise CliError(f"no certificate type {which} (`ecert type list` lists them)", USAGE,
                       {"code": "TYPE_UNKNOWN", "message": f"no certificate type {which}"})
    if args.json:
        print_json(t)
        return OK
    print(f"{t['id']} v{t['version']}: {t.get('name', '')}")
    schema = t.get("schema") or {}
    required = set(schema.get("required") or ())
    props = schema.get("properties") or {}
    if props:
        print("fields (* required):")
        width = max(len(k) for k in props)
        for name, rule in props.items():
            kind = rule.get("format") or rule.get("type") or ("one of " + "/".join(map(str, rule["enum"]))
                                                               if "enum" in rule else "")
            print(f"  {name:<{width}} {'*' if name in required else ' '} {kind}")
    for role, fields in (t.get("disclosure") or {}).items():
        print(f"shown to {role}: {', '.join(fields) or '(nothing)'}")
    return OK


def cmd_type_publish(args) -> int:
    doc = read_json_object(args.file, "a certificate type: id, version, name, schema, disclosure")
    missing = [name for name in ("id", "name", "schema") if name not in doc]
    if missing:
        raise CliError(f"{args.file} lacks {', '.join(missing)}: a type file holds id, version, name, schema and "
                       "disclosure (`ecert type show cn.resident_id --json` prints one)", USAGE)
    t = client(args).publish_type(doc)
    if args.json:
        print_json(t)
    else:
        print(f"published {t.get('id')} v{t.get('version')} ({t.get('name')})")
    return OK


# -- regions ---------------------------------------------------------------------------------------

def cmd_region_list(args) -> int:
    regions = client(args).regions()
    if args.json:
        print_json({"regions": regions})
        return OK
    rows = []
    for r in regions:
        keys = r.get("keys") or []
        current = [k["kid"] for k in keys if k.get("status") == "active"]
        rows.append([r["code"], r.get("name", ""), str(len(keys)), ", ".join(current) or "-"])
    table(rows, ["REGION", "NAME", "KEYS", "ACTIVE KEYS"])
    return OK


# -- recognition rules -----------------------------------------------------------------------------

def _print_rules(r: dict) -> None:
    print(f"recognition rules of trust list v{r.get('trust_list_version')}")
    print("purposes (the certificate types each accepts):")
    purposes = r.get("purposes") or {}
    width = max((len(k) for k in purposes), default=0)
    for purpose, types in purposes.items():
        print(f"  {purpose:<{width}}  {', '.join(types) or '(none)'}")
    print("recognition (whose credentials callers of each region recognise; * : callers bound to no region):")
    recognition = r.get("recognition") or {}
    width = max((len(k) for k in recognition), default=0)
    for region, regions in recognition.items():
        print(f"  {region:<{width}}  {', '.join(regions) or '(none)'}")


def cmd_rules_show(args) -> int:
    r = client(args).rules()
    if args.json:
        print_json(r)
    else:
        _print_rules(r)
    return OK


def _items(args, what: str) -> list[str]:
    if args.none and args.items:
        raise CliError(f"give {what} or --none, not both", USAGE)
    if not args.none and not args.items:
        raise CliError(f"give {what}, or --none to accept none", USAGE)
    return list(args.items)


def cmd_rules_set_types(args) -> int:
    types = _items(args, "the certificate types")
    r = client(args).set_purpose_types(args.purpose, types)
    if args.json:
        print_json(r)
        return OK
    accepted = (r.get("purposes") or {}).get(args.purpose, [])
    print(f"{args.purpose} accepts {', '.join(accepted) or 'nothing'} (trust list v{r.get('trust_list_version')})")
    return OK


def cmd_rules_set_recognition(args) -> int:
    regions = _items(args, "the regions")
    r = client(args).set_recognition(args.region, regions)
    if args.json:
        print_json(r)
        return OK
    recognised = (r.get("recognition") or {}).get(args.region, [])
    who = "callers bound to no region" if args.region == "*" else args.region
    print(f"{who} recognise{'s' if args.region != '*' else ''} credentials of {', '.join(recognised) or 'no region'} "
          f"(trust list v{r.get('trust_list_version')})")
    return OK


# -- parsers ---------------------------------------------------------------------------------------

def register(sub) -> None:
    types = sub.add_parser("type", help="certificate types: list, show, publish").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = types.add_parser("list", help="every published certificate type and version")
    gateway_options(p)
    p.set_defaults(func=cmd_type_list)
    p = types.add_parser("show", help="one type's fields and who is shown which (--json: a type file to start from)")
    p.add_argument("id", help="e.g. cn.resident_id")
    p.add_argument("--version", type=int, help="default: the latest")
    gateway_options(p)
    p.set_defaults(func=cmd_type_show)
    p = types.add_parser("publish", help="publish a certificate type (admin)",
                         description=__doc__.split("\n\n", 1)[1])
    p.add_argument("file", metavar="FILE.json", help="the type: id, version, name, schema, disclosure")
    gateway_options(p)
    p.set_defaults(func=cmd_type_publish)

    regions = sub.add_parser("region", help="regions and their signing keys").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = regions.add_parser("list", help="the regions, their keys and the active ones")
    gateway_options(p)
    p.set_defaults(func=cmd_region_list)

    rules = sub.add_parser("rules", help="recognition rules: which types each purpose accepts, which regions "
                                         "each region recognises").add_subparsers(dest="action", required=True,
                                                                                  metavar="ACTION")
    p = rules.add_parser("show", help="the rules the current trust list carries")
    gateway_options(p)
    p.set_defaults(func=cmd_rules_show)
    p = rules.add_parser("set-types", help="set the certificate types a purpose accepts (admin)")
    p.add_argument("purpose", help="e.g. hotel_check_in")
    p.add_argument("items", nargs="*", metavar="TYPE", help="certificate type ids, e.g. cn.resident_id")
    p.add_argument("--none", action="store_true", help="accept no type at all")
    gateway_options(p)
    p.set_defaults(func=cmd_rules_set_types)
    p = rules.add_parser("set-recognition", help="set whose credentials a region's callers recognise (admin)")
    p.add_argument("region", help="the callers' region, e.g. CN-SH, or '*' for callers bound to no region")
    p.add_argument("items", nargs="*", metavar="REGION", help="the regions whose credentials they recognise")
    p.add_argument("--none", action="store_true", help="recognise no region's credentials")
    gateway_options(p)
    p.set_defaults(func=cmd_rules_set_recognition)
