"""Go templates as the docker CLI runs them (`--format`): table tests.

GO_OUTPUTS and GO_ERRORS were checked against Go's own text/template (1.19, with the docker
CLI's functions) on the same data decoded from JSON; the other tests hold what berth adds
for Docker's typed documents and rows, and the examples of Docker's documentation
("Format command and log output", `docker inspect`, `docker ps`).
"""

from __future__ import annotations

import io

import pytest

from berth.cli.listing import label_method, print_documents, print_rows
from berth.cli.template import Template
from berth.errors import InvalidArgument

# Map data (lowercase keys: Go maps, as Docker's JSON fallback decodes them).
DATA = {
    "name": "web",
    "tags": ["a", "b", "c"],
    "labels": {"z": "1", "a": "2"},
    "count": 3,
    "zero": 0,
    "nil": None,
    "empty": [],
    "f": 1.5,
    "t": True,
    "u": "héllo",
    "nums": [3, 1, 2],
    "nested": {"list": [{"k": "v"}, {"k": "w"}]},
}

GO_OUTPUTS = [
    (
        "{{.name}} {{.count}} {{.f}} {{.t}} {{.nil}} {{.nope}}",
        "web 3 1.5 true <no value> <no value>",
    ),
    (
        "{{.tags}} {{.labels}} {{.nested}} {{.empty}}",
        "[a b c] map[a:2 z:1] map[list:[map[k:v] map[k:w]]] []",
    ),
    ("{{.nope.deeper}}", "<no value>"),
    ("{{range $k, $v := .labels}}{{$k}}={{$v}};{{end}}", "a=2;z=1;"),
    ("{{range $i, $v := .tags}}{{$i}}:{{$v}} {{end}}", "0:a 1:b 2:c "),
    ("{{range .empty}}x{{else}}none{{end}}", "none"),
    ('{{range .tags}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac"),
    ('{{range .tags}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', "a"),
    ("{{range .nested.list}}{{.k}}{{end}}", "vw"),
    ("{{(index .nested.list 1).k}}", "w"),
    ('{{index .tags 1}} {{index .name 0}} {{index .labels "a"}}', "b 119 2"),
    ("{{if .zero}}y{{else if .empty}}e{{else if .name}}n{{else}}x{{end}}", "n"),
    ("{{with .nope}}x{{else}}nothing{{end}} {{with .labels}}{{.a}}{{end}}", "nothing 2"),
    ("{{with $x := .name}}{{$x}}/{{.}}{{end}}", "web/web"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
    ("{{range .tags}}{{$.name}}{{end}}", "webwebweb"),
    (
        '{{eq .name "web"}} {{eq .count 1 2 3}} {{ne .count 3}} {{eq .nil .nope}}',
        "true true false true",
    ),
    ('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}', "true true true false"),
    (
        '{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}} {{or .nope "default"}}',
        "0 2 x  default",
    ),
    ("{{not 0}} {{not .name}} {{not .empty}}", "true false true"),
    ("{{len .tags}} {{len .labels}} {{len .u}}", "3 2 6"),
    ("{{slice .name 1}} {{slice .name 1 2}} {{slice .tags 1}}", "eb e [b c]"),
    ('{{print "a" 1 2 "b" .t .nil}}', "a1 2btrue <nil>"),
    ('{{println "a" 1 .nil}}', "a 1 <nil>\n"),
    ('{{printf "%s-%d-%v-%q-%t" .name .count .tags .name .t}}', 'web-3-[a b c]-"web"-true'),
    (
        '{{printf "%5.2f|%-5s|%05d|%x|%X|%o|%c|%U|%+d" .f "ab" 42 255 255 8 65 65 5}}',
        " 1.50|ab   |00042|ff|FF|10|A|U+0041|+5",
    ),
    (
        '{{printf "%e %g %.3g %v %v" 123456.789 1e6 1234.5678 1e6 123456.0}}',
        "1.234568e+05 1e+06 1.23e+03 1e+06 123456",
    ),
    (
        '{{printf "%T %T %T %T %T" .name .count .f .tags .labels}}',
        "string int float64 []interface {} map[string]interface {}",
    ),
    (
        '{{printf "%q" .tags}} {{printf "%d" .nums}} {{printf "%5s|%.2s|%-4q|" "ab" "abc" "x"}}',
        '["a" "b" "c"] [3 1 2]    ab|ab|"x" |',
    ),
    (
        '{{printf "%d" .name}} {{printf "%s"}} {{printf "%d" 1 2}}',
        "%!d(string=web) %!s(MISSING) 1%!(EXTRA int=2)",
    ),
    (
        '{{.name | printf "%q"}} {{.name | printf "%s-%s" "x"}} '
        '{{.count | printf "%d" | printf "%q"}}',
        '"web" x-web "3"',
    ),
    ('{{printf "%.2s" .name | upper}}', "WE"),
    ('{{.tags | len | printf "%03d"}}', "003"),
    (
        '{{html "<a href=\'x\'>&\\""}} {{js "it\'s <b>\\"x\\"=1"}} {{urlquery "a b&c=d/é"}}',
        "&lt;a href=&#39;x&#39;&gt;&amp;&#34; "
        'it\\\'s \\u003Cb\\u003E\\"x\\"\\u003D1 a+b%26c%3Dd%2F%C3%A9',
    ),
    (
        '{{json .labels}} {{json .tags}} {{json .nil}} {{json .name}} {{json .f}} {{json "<&>"}}',
        '{"a":"2","z":"1"} ["a","b","c"] null "web" 1.5 "<&>"',
    ),
    (
        '{{join .tags ", "}} {{join .labels "+"}} {{join .nil ","}} {{join .nums "-"}}',
        "a, b, c 1+2  3-1-2",
    ),
    ('{{split "a:b:c" ":"}} {{split .name ""}}', "[a b c] [w e b]"),
    (
        '{{title "hello wORLD foo-bar it\'s_x"}} {{lower "ABC"}} {{upper .u}}',
        "Hello WORLD Foo-Bar It'S_x abc HÉLLO",
    ),
    ('{{pad .name 2 3}}| {{pad "" 2 3}}|', "  web   | |"),
    ("{{truncate .name 2}} {{truncate .name 10}}", "we web"),
    ("a  {{- .name -}}  b {{- /* comment */ -}} c", "awebbc"),
    (
        "{{\"\\x41\\u00e9\\t|\"}}{{`raw\\n`}}{{1.5}} {{1e3}} {{0x1F}} {{'a'}} {{-3}} {{017}}",
        "Aé\t|raw\\n1.5 1000 31 97 -3 15",
    ),
]

GO_ERRORS = [
    (
        "{{.nil.x}}",
        'template: :1:6: executing "" at <.nil.x>: nil pointer evaluating interface {}.x',
    ),
    (
        "{{.name.x}}",
        'template: :1:7: executing "" at <.name.x>: can\'t evaluate field x in type interface {}',
    ),
    (
        "{{index .tags 9}}",
        'template: :1:2: executing "" at <index .tags 9>: '
        "error calling index: index out of range: 9",
    ),
    (
        '{{index .tags "x"}}',
        'template: :1:2: executing "" at <index .tags "x">: '
        "error calling index: cannot index slice/array with type string",
    ),
    (
        "{{index .count 1}}",
        'template: :1:2: executing "" at <index .count 1>: '
        "error calling index: can't index item of type int",
    ),
    (
        "{{slice .name 2 1}}",
        'template: :1:2: executing "" at <slice .name 2 1>: '
        "error calling slice: invalid slice index: 2 > 1",
    ),
    (
        "{{eq .name 1}}",
        'template: :1:2: executing "" at <eq .name 1>: '
        "error calling eq: incompatible types for comparison",
    ),
    (
        "{{eq .tags .tags}}",
        'template: :1:2: executing "" at <eq .tags .tags>: '
        "error calling eq: non-comparable type [a b c]: []interface {}",
    ),
    (
        "{{lt true false}}",
        'template: :1:2: executing "" at <lt true false>: '
        "error calling lt: invalid type for comparison",
    ),
    (
        "{{len .count}}",
        'template: :1:2: executing "" at <len .count>: error calling len: len of type int',
    ),
    (
        "{{and}}",
        'template: :1:2: executing "" at <and>: '
        "wrong number of args for and: want at least 1 got 0",
    ),
    (
        "{{upper .count}}",
        'template: :1:8: executing "" at <.count>: wrong type for value; expected string; got int',
    ),
    ("{{upper .nope}}", 'template: :1:8: executing "" at <.nope>: invalid value; expected string'),
    (
        '{{truncate .name "x"}}',
        'template: :1:17: executing "" at <"x">: expected integer; found "x"',
    ),
    ("{{.name | truncate 2}}", 'template: :1:19: executing "" at <2>: expected string; found 2'),
    (
        '{{join .name ","}}',
        'template: :1:2: executing "" at <join .name ",">: '
        "error calling join: expected slice, got string",
    ),
    (
        '{{"a" | .name}}',
        'template: :1:8: executing "" at <.name>: name is not a method but has arguments',
    ),
    ("{{nil}}", 'template: :1:2: executing "" at <nil>: nil is not a command'),
    (
        "{{.name .count}}",
        'template: :1:2: executing "" at <.name>: name is not a method but has arguments',
    ),
    (
        "{{range .name}}{{end}}",
        'template: :1:8: executing "" at <.name>: range can\'t iterate over web',
    ),
    ("{{.name", "template: :1: unclosed action"),
    ("{{if .name}}", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{nofunc 1}}", 'template: :1: function "nofunc" not defined'),
    ("{{$y}}", 'template: :1: undefined variable "$y"'),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{range .tags}}{{else if .x}}{{end}}", "template: :1: unexpected <if> in input"),
    ('{{"unterminated}}', "template: :1: unterminated quoted string"),
    ("{{12abc}}", 'template: :1: bad number syntax: "12a"'),
    ("{{(.name}}", "template: :1: unclosed left paren"),
    ("{{.name)}}", 'template: :1: unexpected ")" in command'),
    ("{{/* unclosed", "template: :1: unclosed comment"),
    ("{{/* x */ .name}}", "template: :1: comment ends before closing delimiter"),
    ('{{.name | "x"}}', "template: :1: non executable command in pipeline stage 2"),
    ("{{range $a, $b, $c := .tags}}{{end}}", "template: :1: too many declarations in range"),
    ("{{#}}", 'template: :1: unexpected "#" in command'),
]


@pytest.mark.parametrize(("source", "expected"), GO_OUTPUTS)
def test_outputs_as_go(source: str, expected: str) -> None:
    assert Template(source).render(DATA) == expected


@pytest.mark.parametrize(("source", "expected"), GO_ERRORS)
def test_errors_as_go(source: str, expected: str) -> None:
    """Parse errors at parse time, execution errors at their line:column and node."""
    with pytest.raises(InvalidArgument) as raised:
        Template(source).render(DATA)
    assert raised.value.message == f"template parsing error: {expected}"


# The shape of `docker inspect CONTAINER` (Go structs: keys are Go field names).
CONTAINER = {
    "Id": "87aa8a2e25d0a1b2c3d4",
    "Name": "/web",
    "Args": ["-c", "echo hi"],
    "State": {"Status": "running", "Running": True, "Pid": 4242, "ExitCode": 0},
    "Config": {
        "Image": "busybox:latest",
        "Env": None,
        "Labels": {"com.example.vendor": "ACME", "version": "1.0"},
    },
    "HostConfig": {"LogConfig": {"Type": "json-file", "Config": {}}, "Memory": 0},
    "NetworkSettings": {
        "Ports": {
            "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
            "443/tcp": [{"HostIp": "", "HostPort": "8443"}],
        },
        "Networks": {"bridge": {"IPAddress": "172.17.0.2", "MacAddress": "02:42:ac:11:00:02"}},
    },
    "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data"}],
    "LogPath": "/var/lib/berth/containers/87aa/87aa-json.log",
}

DOCKER_EXAMPLES = [
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "172.17.0.2"),
    ("{{range.NetworkSettings.Networks}}{{.MacAddress}}{{end}}", "02:42:ac:11:00:02"),
    ("{{range .NetworkSettings.Networks}}{{println .IPAddress}}{{end}}", "172.17.0.2\n"),
    ("{{.LogPath}}", "/var/lib/berth/containers/87aa/87aa-json.log"),
    ("{{.Config.Image}}", "busybox:latest"),
    (
        "{{range $p, $conf := .NetworkSettings.Ports}} {{$p}} -> "
        "{{(index $conf 0).HostPort}} {{end}}",
        " 443/tcp -> 8443  80/tcp -> 8080 ",
    ),
    ('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', "8080"),
    ('{{join .Args " , "}}', "-c , echo hi"),
    ("{{json .Mounts}}", '[{"Type":"volume","Name":"data","Destination":"/data"}]'),
    ("{{lower .Name}} {{upper .Name}} {{title .Name}}", "/web /WEB /Web"),
    ('{{split .Config.Image ":"}}', "[busybox latest]"),
    ("{{json .State}}", '{"Status":"running","Running":true,"Pid":4242,"ExitCode":0}'),
    ('{{if eq .State.Status "running" "restarting"}}up{{end}}', "up"),
    ('{{.Id | printf "%.12s"}}', "87aa8a2e25d0"),
    ('{{printf "%q" .Name}}', '"/web"'),
    # A Go struct prints its values in order, a map its sorted keys (Docker's typed output).
    ("{{.HostConfig.LogConfig}}", "{json-file map[]}"),
    ("{{.Config.Labels}}", "map[com.example.vendor:ACME version:1.0]"),
    # A label map's missing key is no value; `index` gives its zero value, "".
    ('{{.Config.Labels.nope}}|{{index .Config.Labels "nope"}}|', "<no value>||"),
    ('{{with index .Config.Labels "version"}}v{{.}}{{end}}', "v1.0"),
    (
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}} {{end}}",
        "com.example.vendor=ACME version=1.0 ",
    ),
    # Go 1.22's range over an integer and 1.23's else with (the docker 28 CLI has them).
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{with .Config.Labels.nope}}{{else with .Name}}{{.}}{{end}}", "/web"),
]


@pytest.mark.parametrize(("source", "expected"), DOCKER_EXAMPLES)
def test_docker_examples_on_an_inspect_document(source: str, expected: str) -> None:
    assert Template(source).render(CONTAINER) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [  # the docker 28 CLI's words for these, on `docker inspect` of a container
        ("{{.Nope}}", 'template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"'),
        (
            "{{.State.Health.Status}}",
            'template: :1:8: executing "" at <.State.Health.Status>: '
            'map has no entry for key "Health"',
        ),
        (
            "{{.Name.Foo}}",
            'template: :1:7: executing "" at <.Name.Foo>: '
            "can't evaluate field Foo in type interface {}",
        ),
        (
            "{{index .Config.Env 7}}",
            'template: :1:2: executing "" at <index .Config.Env 7>: '
            "error calling index: index of untyped nil",
        ),
        ("{{.Nope", "template: :1: unclosed action"),
    ],
)
def test_a_missing_field_of_a_document_is_an_error(source: str, expected: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        Template(source).render(CONTAINER)
    assert raised.value.message == f"template parsing error: {expected}"


def test_a_template_name_is_in_its_errors() -> None:
    with pytest.raises(InvalidArgument) as raised:
        Template("{{.Nope", "version")
    assert raised.value.message == "template parsing error: template: version:1: unclosed action"


ROWS = [
    {"ID": "41bf079aa869", "Names": "other", "Labels": "", "Label": label_method({})},
    {"ID": "87aa8a2e25d0", "Names": "web", "Labels": "x=y", "Label": label_method({"x": "y"})},
]
HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Labels": "LABELS"}


def _rows(fmt: str | None, default: str = "table {{.ID}}\t{{.Names}}") -> list[str]:
    out = io.StringIO()
    print_rows(out, ROWS, fmt, default, HEADERS)
    return out.getvalue().splitlines()


def test_table_headers_as_docker_prints_them() -> None:
    """Header functions leave a column name as it is, pad and printf still apply, and a
    `.Label` column is named after the label's last part."""
    fmt = r'table {{.Names}}\t{{.Label "x"}}\t{{upper .Names}}\t{{pad .Names 1 1}}|'
    assert _rows(fmt) == [
        "NAMES     x         NAMES      NAMES |",
        "other               OTHER      other |",
        "web       y         WEB        web |",
    ]
    assert _rows('table {{.Label "com.example.some_name"}}')[0] == "some name"
    assert _rows(r"table {{json .ID}}\t{{truncate .Names 2}}")[:2] == [
        "CONTAINER ID     NAMES",
        '"41bf079aa869"   ot',
    ]


def test_row_formats() -> None:
    assert _rows(None) == ["CONTAINER ID   NAMES", "41bf079aa869   other", "87aa8a2e25d0   web"]
    assert _rows("table") == _rows(None)
    assert _rows(r"{{.Names}}\t{{.Label `x`}}") == ["other\t", "web\ty"]
    assert _rows("json")[1] == '{"ID":"87aa8a2e25d0","Labels":"x=y","Names":"web"}'
    with pytest.raises(InvalidArgument, match="map has no entry for key"):
        _rows("{{.Nope}}")


def test_inspect_json_is_one_compact_array() -> None:
    out = io.StringIO()
    print_documents(out, [{"Id": "a"}, {"Id": "b"}], "json")
    assert out.getvalue() == '[{"Id":"a"},{"Id":"b"}]\n'
