/**
 * Job-variable templates (src/template) against Go's `text/template`.
 *
 * Every expected output and error message in CASES was produced by Go 1.26 executing the same
 * template with `template.New("interpolate").Option("missingkey=error")`, prunner's `default`
 * function and a Go `shellquote` with the documented semantics, on the JSON-decoded variables.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "./assert.ts";
import { PrunnerError } from "../src/errors.ts";
import { parseTemplate, renderTemplate, TemplateError } from "../src/template/mod.ts";

/** The variables most cases render with, as a schedule request would send them. */
const DATA: Record<string, unknown> = {
  name: "world",
  n: 3,
  big: 1655371,
  f: 0.5,
  zero: 0,
  neg: -2.5,
  t: true,
  fl: false,
  empty: "",
  nul: null,
  list: ["a", "b", "c"],
  nums: [1, 2, 3],
  elist: [],
  emap: {},
  obj: { b: 2, a: "x", nested: { k: "v" } },
  quote: "it's",
  html: `<a href="x">&'</a>`,
  mixed: [1, "two", null, true, { k: 1 }],
  unicode: "héllo",
  e: 1e21,
  small: 0.00001,
  h: 100000,
  m: 123456.7,
  i: 1,
  neg0: -0,
};

/** A template, its variables (DATA unless given) and Go's output or error message. */
interface Case {
  t: string;
  data?: Record<string, unknown>;
  out?: string;
  err?: string;
}

const CASES: Record<string, Case[]> = {
  "fields, dot and $": [
    { t: "{{ .name }}", out: "world" },
    { t: "{{ .obj.a }} {{ .obj.b }} {{ .obj.nested.k }}", out: "x 2 v" },
    { t: "{{ $.name }} {{ $.obj.nested.k }}", out: "world v" },
    {
      t: "{{ . }}",
      out:
        "map[big:1.655371e+06 e:1e+21 elist:[] emap:map[] empty: f:0.5 fl:false h:100000 html:<a href=\"x\">&'</a> i:1 list:[a b c] m:123456.7 mixed:[1 two <nil> true map[k:1]] n:3 name:world neg:-2.5 neg0:-0 nul:<nil> nums:[1 2 3] obj:map[a:x b:2 nested:map[k:v]] quote:it's small:1e-05 t:true unicode:héllo zero:0]",
    },
    {
      t: "{{ $ }}",
      out:
        "map[big:1.655371e+06 e:1e+21 elist:[] emap:map[] empty: f:0.5 fl:false h:100000 html:<a href=\"x\">&'</a> i:1 list:[a b c] m:123456.7 mixed:[1 two <nil> true map[k:1]] n:3 name:world neg:-2.5 neg0:-0 nul:<nil> nums:[1 2 3] obj:map[a:x b:2 nested:map[k:v]] quote:it's small:1e-05 t:true unicode:héllo zero:0]",
    },
    { t: "{{ .héllo }} {{ ._u1 }}", data: { "héllo": "ü", "_u1": 1 }, out: "ü 1" },
    { t: "{{ .a }}", data: { "a": { "b": [1, { "c": null }] } }, out: "map[b:[1 map[c:<nil>]]]" },
  ],
  "printing values as Go's fmt %v": [
    {
      t: "{{ .n }} {{ .big }} {{ .f }} {{ .zero }} {{ .neg }} {{ .e }} {{ .small }} {{ .h }} {{ .m }} {{ .neg0 }}",
      out: "3 1.655371e+06 0.5 0 -2.5 1e+21 1e-05 100000 123456.7 -0",
    },
    {
      t: "{{ .a }} {{ .b }} {{ .c }} {{ .d }} {{ .e }} {{ .f }} {{ .g }}",
      data: {
        "a": 1e+20,
        "b": 123456,
        "c": 1234567,
        "d": 0.0001,
        "e": 12345678901234567890,
        "f": 1.5e-07,
        "g": 1e+100,
      },
      out: "1e+20 123456 1.234567e+06 0.0001 1.2345678901234567e+19 1.5e-07 1e+100",
    },
    {
      t: "{{ .t }} {{ .fl }} {{ .nul }} {{ .list }} {{ .nums }} {{ .elist }} {{ .emap }} {{ .obj }} {{ .mixed }}",
      out:
        "true false <no value> [a b c] [1 2 3] [] map[] map[a:x b:2 nested:map[k:v]] [1 two <nil> true map[k:1]]",
    },
    {
      t: "{{ .m }}",
      data: { "m": { "b": 1, "a": [1, null], "B": {}, "é": true, "Z": "z" } },
      out: "map[B:map[] Z:z a:[1 <nil>] b:1 é:true]",
    },
  ],
  "literals": [
    {
      t: '{{ "a\\tb\\x41\\u00e9\\101" }}|{{ `raw\\n` }}|{{ 42 }}|{{ -7 }}|{{ 3.0 }}|{{ 1e3 }}|{{ 1.5 }}|{{ .5 }}',
      out: "a\tbAéA|raw\\n|42|-7|3|1000|1.5|0.5",
    },
    {
      t: "{{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }} {{ 0x1p-2 }} {{ 'a' }} {{ '\\n' }} {{ true }} {{ false }}",
      out: "31 15 15 5 1000 0.25 97 10 true false",
    },
    {
      t: "{{ 123456789012345678 }} {{ 1e100 }} {{ 5e-324 }}",
      out: "123456789012345678 1e+100 5e-324",
    },
    { t: "{{ `a\r\nb` }}", out: "a\nb" },
    {
      t: "{{ nil }}",
      err: 'template: interpolate:1:3: executing "interpolate" at <nil>: nil is not a command',
    },
    {
      t: "{{ 99999999999999999999 }}",
      err: 'template: interpolate:1: integer overflow: "99999999999999999999"',
    },
    {
      t: "{{ 18446744073709551615 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <18446744073709551615>: 18446744073709551615 overflows int',
    },
    { t: "{{ 08 }}", err: 'template: interpolate:1: integer overflow: "08"' },
    { t: "{{ 3x }}", err: 'template: interpolate:1: bad number syntax: "3x"' },
    { t: "{{ 1e400 }}", err: 'template: interpolate:1: illegal number syntax: "1e400"' },
    { t: "{{ 'ab' }}", err: "template: interpolate:1: malformed character constant: 'ab'" },
    { t: "{{ '' }}", err: "template: interpolate:1: invalid syntax" },
    { t: '{{ "\\q" }}', err: "template: interpolate:1: invalid syntax" },
    { t: '{{ "a\nb" }}', err: "template: interpolate:1: unterminated quoted string" },
    { t: "{{ `unterminated }}", err: "template: interpolate:1: unterminated raw quoted string" },
  ],
  "missing keys and bad field access (missingkey=error)": [
    {
      t: "echo {{ .x }}",
      err:
        'template: interpolate:1:8: executing "interpolate" at <.x>: map has no entry for key "x"',
    },
    {
      t: "{{ .obj.zz }}",
      err:
        'template: interpolate:1:7: executing "interpolate" at <.obj.zz>: map has no entry for key "zz"',
    },
    {
      t: "{{ .a.b.c }}",
      err:
        'template: interpolate:1:5: executing "interpolate" at <.a.b.c>: map has no entry for key "a"',
    },
    {
      t: "{{ .nul.x }}",
      err:
        'template: interpolate:1:7: executing "interpolate" at <.nul.x>: nil pointer evaluating interface {}.x',
    },
    {
      t: "{{ .name.x }}",
      err:
        'template: interpolate:1:8: executing "interpolate" at <.name.x>: can\'t evaluate field x in type interface {}',
    },
    {
      t: "{{ .obj.nested.k.z }}",
      err:
        'template: interpolate:1:7: executing "interpolate" at <.obj.nested.k.z>: can\'t evaluate field z in type interface {}',
    },
    {
      t: "{{ with .name }}{{ .x }}{{ end }}",
      err:
        'template: interpolate:1:19: executing "interpolate" at <.x>: can\'t evaluate field x in type string',
    },
    {
      t: "{{ $x := .list }}{{ $x.y }}",
      err:
        'template: interpolate:1:22: executing "interpolate" at <$x.y>: can\'t evaluate field y in type []interface {}',
    },
    {
      t: "{{ range $i, $v := .list }}{{ $v.y }}{{ end }}",
      err:
        'template: interpolate:1:32: executing "interpolate" at <$v.y>: can\'t evaluate field y in type interface {}',
    },
    {
      t: "{{ (.obj).zz }}",
      err:
        'template: interpolate:1:4: executing "interpolate" at <.obj>: map has no entry for key "zz"',
    },
    {
      t: "line1\n{{ .nope }}",
      err:
        'template: interpolate:2:3: executing "interpolate" at <.nope>: map has no entry for key "nope"',
    },
    {
      t: "x\n\n  {{ .obj.zz }}",
      err:
        'template: interpolate:3:9: executing "interpolate" at <.obj.zz>: map has no entry for key "zz"',
    },
    {
      t: "héllo {{ .x }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <.x>: map has no entry for key "x"',
    },
    {
      t: "日本 {{ .obj.zz }}",
      err:
        'template: interpolate:1:14: executing "interpolate" at <.obj.zz>: map has no entry for key "zz"',
    },
    {
      t: "{{ .name }} {{ if .t }}\n{{ .nope }}{{ end }}",
      err:
        'template: interpolate:2:3: executing "interpolate" at <.nope>: map has no entry for key "nope"',
    },
    {
      t: "{{/* multi\nline */}}{{ .x }}",
      err:
        'template: interpolate:2:12: executing "interpolate" at <.x>: map has no entry for key "x"',
    },
    {
      t: '{{ default "x" .missing }}',
      err:
        'template: interpolate:1:15: executing "interpolate" at <.missing>: map has no entry for key "missing"',
    },
  ],
  "if / else if / else": [
    { t: "{{ if .t }}yes{{ end }}", out: "yes" },
    { t: "{{ if .fl }}yes{{ else }}no{{ end }}", out: "no" },
    { t: "{{ if .zero }}a{{ else if .empty }}b{{ else if .list }}c{{ else }}d{{ end }}", out: "c" },
    { t: "{{ if .nul }}a{{ else if .elist }}b{{ else if .emap }}c{{ else }}d{{ end }}", out: "d" },
    {
      t: '{{ if .f }}f{{ end }}{{ if .neg }}g{{ end }}{{ if .obj }}h{{ end }}{{ if .neg0 }}i{{ end }}{{ if "0" }}j{{ end }}',
      out: "fghj",
    },
    { t: "a\n{{ if .t }}\nb\n{{ end }}\nc", out: "a\n\nb\n\nc" },
  ],
  "with": [
    { t: "{{ with .obj }}{{ .a }}{{ end }}", out: "x" },
    { t: "{{ with .empty }}x{{ else }}none{{ end }}", out: "none" },
    { t: "{{ with .nul }}x{{ else with .name }}{{ . }}{{ end }}", out: "world" },
    { t: "{{ with $x := .obj.nested }}{{ $x.k }}{{ end }}", out: "v" },
    { t: '{{ with .mixed }}{{ index . 4 "k" }}{{ end }}', out: "1" },
    {
      t: "{{ with .nul.x }}{{ end }}",
      err:
        'template: interpolate:1:12: executing "interpolate" at <.nul.x>: nil pointer evaluating interface {}.x',
    },
  ],
  "range": [
    { t: "{{ range .list }}[{{ . }}]{{ end }}", out: "[a][b][c]" },
    { t: "{{ range $i, $v := .list }}{{ $i }}={{ $v }} {{ end }}", out: "0=a 1=b 2=c " },
    { t: "{{ range $v := .nums }}{{ $v }},{{ end }}", out: "1,2,3," },
    { t: "{{ range $k, $v := .obj }}{{ $k }}:{{ $v }};{{ end }}", out: "a:x;b:2;nested:map[k:v];" },
    { t: "{{ range .obj }}{{ . }},{{ end }}", out: "x,2,map[k:v]," },
    { t: "{{ range .elist }}x{{ else }}empty{{ end }}", out: "empty" },
    { t: "{{ range .nul }}x{{ else }}nil{{ end }}", out: "nil" },
    { t: "{{ range $k, $v := .emap }}{{ else }}e{{ end }}", out: "e" },
    { t: '{{ range .list }}{{ if eq . "b" }}{{ continue }}{{ end }}{{ . }}{{ end }}', out: "ac" },
    { t: '{{ range .list }}{{ if eq . "b" }}{{ break }}{{ end }}{{ . }}{{ end }}', out: "a" },
    { t: "{{ range .list }}{{ with . }}{{ break }}{{ end }}{{ . }}{{ end }}", out: "" },
    { t: "{{ range .nums }}{{ range $.list }}{{ . }}{{ end }}{{ end }}", out: "abcabcabc" },
    { t: "{{ range $i, $v := .nums }}{{ if gt $i 0 }},{{ end }}{{ $v }}{{ end }}", out: "1,2,3" },
    { t: "{{ range .mixed }}<{{ . }}>{{ end }}", out: "<1><two><<no value>><true><map[k:1]>" },
    { t: "{{ range 3 }}{{ . }}{{ end }}", out: "012" },
    {
      t: '{{ $i := 0 }}{{ $v := "" }}{{ range $i, $v = .list }}{{ end }}{{ $i }}{{ $v }}',
      out: "2c",
    },
    { t: "{{ range .list }}\n  - {{ . }}\n{{- end }}", out: "\n  - a\n  - b\n  - c" },
    {
      t: "{{ range $i, $v := 3 }}{{ . }}{{ end }}",
      err:
        'template: interpolate:1:19: executing "interpolate" at <3>: can\'t use 3 to iterate over more than one variable',
    },
    {
      t: "{{ range .n }}{{ . }}{{ end }}",
      err:
        'template: interpolate:1:9: executing "interpolate" at <.n>: range can\'t iterate over 3',
    },
    {
      t: "{{ range .name }}{{ . }}{{ end }}",
      err:
        'template: interpolate:1:9: executing "interpolate" at <.name>: range can\'t iterate over world',
    },
    {
      t: "{{ range .list }}{{ .x }}{{ end }}",
      err:
        'template: interpolate:1:20: executing "interpolate" at <.x>: can\'t evaluate field x in type interface {}',
    },
    {
      t: "{{ range $i, $v = .list }}{{ end }}",
      err: 'template: interpolate:1:18: executing "interpolate" at <.list>: undefined variable: $i',
    },
  ],
  "variables": [
    { t: "{{ $x := .name }}{{ $x }}", out: "world" },
    { t: "{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", out: "2" },
    { t: "{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", out: "2" },
    { t: "{{ $x := 1 }}{{ range .list }}{{ $x = . }}{{ end }}{{ $x }}", out: "c" },
    { t: "{{ $ := 1 }}{{ $ }}", out: "1" },
    {
      t: "{{ $x = 2 }}",
      err: 'template: interpolate:1:8: executing "interpolate" at <2>: undefined variable: $x',
    },
    { t: "{{ $y }}", err: 'template: interpolate:1: undefined variable "$y"' },
    {
      t: "{{ if .t }}{{ $x := 1 }}{{ end }}{{ $x }}",
      err: 'template: interpolate:1: undefined variable "$x"',
    },
    {
      t: "{{ range $x := .list }}{{ $x }}{{ end }}{{ $x }}",
      err: 'template: interpolate:1: undefined variable "$x"',
    },
    { t: "{{ .name }}\n{{ $x }}", err: 'template: interpolate:2: undefined variable "$x"' },
  ],
  "pipelines and parentheses": [
    { t: '{{ .name | printf "%s!" }}', out: "world!" },
    { t: '{{ .n | printf "%v-%v" 1 }}', out: "1-3" },
    { t: '{{ "a" | printf "%s %s" "b" }}', out: "b a" },
    { t: '{{ .name | len | printf "%d chars" }}', out: "5 chars" },
    { t: '{{ .name | printf "%s" | printf "%q" }}', out: '"world"' },
    { t: "{{ .name | len | eq 5 }}", out: "true" },
    { t: '{{ (printf "%s-%s" .name .name) }}', out: "world-world" },
    { t: "{{ ((.name)) }}", out: "world" },
    { t: "{{ (.obj).a }}", out: "x" },
    { t: '{{ (index .obj "nested").k }}', out: "v" },
    { t: "{{ print (len .list) (index .nums 0) }}", out: "3 1" },
    { t: "{{ .name\n}}", out: "world" },
    {
      t: '{{ .n | "x" }}',
      err: "template: interpolate:1: non executable command in pipeline stage 2",
    },
    {
      t: "{{ .name 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <.name>: name is not a method but has arguments',
    },
    {
      t: "{{ . 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <.>: can\'t give argument to non-function .',
    },
    {
      t: "{{ 1 2 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <1>: can\'t give argument to non-function 1',
    },
    {
      t: "{{ $ 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <$>: can\'t give argument to non-function $',
    },
    {
      t: "{{ .n | .name }}",
      err:
        'template: interpolate:1:8: executing "interpolate" at <.name>: name is not a method but has arguments',
    },
    {
      t: '{{ .n | (printf "%v") }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <.n>: can\'t give argument to non-function printf "%v"',
    },
    {
      t: '{{ "x" | (.name) }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <"x">: can\'t give argument to non-function .name',
    },
  ],
  "trim markers and comments": [
    { t: "{{- .name -}} !", out: "world!" },
    { t: "a  {{- .name }}  b", out: "aworld  b" },
    { t: "a  {{ .name -}}  b", out: "a  worldb" },
    { t: "a {{- /* comment */ -}} b", out: "ab" },
    { t: "a{{/* comment */}}b", out: "ab" },
    { t: "a {{- \n .name \n -}} b", out: "aworldb" },
    { t: "{{ .name -}}\n\n  x", out: "worldx" },
    { t: "  \n{{- .name }}", out: "world" },
    { t: "{{-3}}", out: "-3" },
    { t: "{{ -3 }}", out: "-3" },
    { t: "{{.n -}}x", out: "3x" },
  ],
  "parse errors": [
    { t: "{{ .name }", err: 'template: interpolate:1: unexpected "}" in operand' },
    { t: "{{ .name", err: "template: interpolate:1: unclosed action" },
    { t: "{{ .name\n", err: "template: interpolate:2: unclosed action started at interpolate:1" },
    { t: "{{ if .t }}\n{{ .name }", err: 'template: interpolate:2: unexpected "}" in operand' },
    { t: "{{ if .t }}no end", err: "template: interpolate:1: unexpected EOF" },
    { t: "{{ if .t }}\n\n{{ else }}", err: "template: interpolate:3: unexpected EOF" },
    { t: "{{ end }}", err: "template: interpolate:1: unexpected {{end}}" },
    { t: "{{ else }}", err: "template: interpolate:1: unexpected {{else}}" },
    { t: "{{ foo }}", err: 'template: interpolate:1: function "foo" not defined' },
    { t: "{{ .name | foo }}", err: 'template: interpolate:1: function "foo" not defined' },
    { t: "{{ 3 }}\n{{ foo }}", err: 'template: interpolate:2: function "foo" not defined' },
    { t: "{{ $x := }}", err: "template: interpolate:1: missing value for command" },
    { t: "{{ }}", err: "template: interpolate:1: missing value for command" },
    { t: "{{ if }}{{ end }}", err: "template: interpolate:1: missing value for if" },
    { t: "{{ range }}{{ end }}", err: "template: interpolate:1: missing value for range" },
    {
      t: "{{ range $i, $j, $k := .list }}{{ end }}",
      err: "template: interpolate:1: too many declarations in range",
    },
    { t: "{{ ( }}", err: "template: interpolate:1: unclosed left paren" },
    { t: "{{ ) }}", err: "template: interpolate:1: unexpected right paren" },
    { t: "{{/* unclosed", err: "template: interpolate:1: unclosed comment" },
    { t: "{{ break }}", err: "template: interpolate:1: {{break}} outside {{range}}" },
    { t: "{{ continue }}", err: "template: interpolate:1: {{continue}} outside {{range}}" },
    {
      t: "{{ range .list }}{{ break 1 }}{{ end }}",
      err: 'template: interpolate:1: unexpected "1" in {{break}}',
    },
    { t: '{{ "a".x }}', err: 'template: interpolate:1: unexpected . after term "\\"a\\""' },
    {
      t: "{{ if .t }}a{{ else }}b{{ else }}c{{ end }}",
      err: "template: interpolate:1: expected end; found {{else}}",
    },
    {
      t: "{{ range .list }}{{ else if .t }}{{ end }}",
      err: "template: interpolate:1: unexpected <if> in input",
    },
    { t: "{{ .my-key }}", err: "template: interpolate:1: bad character U+002D '-'" },
    { t: "{{ 3 - }}", err: 'template: interpolate:1: illegal number syntax: "-"' },
    {
      t: "{{ .x \u0001 }}",
      err: "template: interpolate:1: unrecognized character in action: U+0001",
    },
    { t: "{{ .x := 1 }}", err: 'template: interpolate:1: unexpected ":=" in operand' },
  ],
  "and, or, not": [
    {
      t: "{{ and .t .name }} {{ and .t .empty .name }} {{ or .empty .zero .name }} {{ or .empty .zero }} {{ and 1 0 }}",
      out: "world  world 0 0",
    },
    { t: "{{ and .fl (index .list 99) }}", out: "false" },
    { t: "{{ or .t (index .list 99) }}", out: "true" },
    { t: "{{ .name | and .t }}", out: "world" },
    { t: "{{ .empty | or .fl }}", out: "" },
    {
      t: "{{ not .t }} {{ not .fl }} {{ not .empty }} {{ not .list }} {{ not 0 }} {{ not nil }}",
      out: "false true true false true true",
    },
    {
      t: "{{ or }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <or>: wrong number of args for or: want at least 1 got 0',
    },
    {
      t: "{{ not }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <not>: wrong number of args for not: want 1 got 0',
    },
    {
      t: "{{ not 1 2 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <not>: wrong number of args for not: want 1 got 2',
    },
  ],
  "len, index, slice": [
    {
      t: "{{ len .list }} {{ len .obj }} {{ len .name }} {{ len .unicode }} {{ len .elist }} {{ .list | len }}",
      out: "3 3 5 6 0 3",
    },
    {
      t: "{{ len .n }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <len .n>: error calling len: len of type float64',
    },
    {
      t: "{{ len .nul }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <len .nul>: error calling len: len of nil pointer',
    },
    {
      t: "{{ len nil }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <len nil>: error calling len: reflect: call of reflect.Value.Type on zero Value',
    },
    {
      t: "{{ .nul | len }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <len>: error calling len: reflect: call of reflect.Value.Type on zero Value',
    },
    {
      t: "{{ len }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <len>: wrong number of args for len: want 1 got 0',
    },
    {
      t: "{{ len .list .list }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <len>: wrong number of args for len: want 1 got 2',
    },
    {
      t: '{{ index .list 0 }} {{ index .list 2 }} {{ index .obj "a" }} {{ index .obj "nested" "k" }} {{ index .mixed 4 "k" }}',
      out: "a c x v 1",
    },
    {
      t: '{{ index .obj "zz" }} {{ index .mixed 2 }} {{ index .list }} {{ index "abc" 1 }} {{ index "héllo" 1 }}',
      out: "<no value> <no value> [a b c] 98 195",
    },
    {
      t: "{{ index .list 3 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .list 3>: error calling index: reflect: slice index out of range',
    },
    {
      t: "{{ index .list 5 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .list 5>: error calling index: index out of range: 5',
    },
    {
      t: "{{ index .list -1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .list -1>: error calling index: index out of range: -1',
    },
    {
      t: "{{ index .list .i }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .list .i>: error calling index: cannot index slice/array with type float64',
    },
    {
      t: "{{ index .list nil }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .list nil>: error calling index: cannot index slice/array with nil',
    },
    {
      t: "{{ index .nul 0 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .nul 0>: error calling index: index of untyped nil',
    },
    {
      t: "{{ index .obj 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .obj 1>: error calling index: value has type int; should be string',
    },
    {
      t: "{{ index .obj .n }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .obj .n>: error calling index: value has type float64; should be string',
    },
    {
      t: "{{ index .obj nil }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .obj nil>: error calling index: value is nil; should be of type string',
    },
    {
      t: "{{ index .n 0 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .n 0>: error calling index: can\'t index item of type float64',
    },
    {
      t: "{{ index .mixed 2 0 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <index .mixed 2 0>: error calling index: index of nil pointer',
    },
    {
      t: '{{ index "abc" 3 }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <index "abc" 3>: error calling index: reflect: string index out of range',
    },
    {
      t: '{{ slice .list 1 }} {{ slice .list 1 2 }} {{ slice .list }} {{ slice "hello" 1 3 }} {{ slice .list 0 1 2 }} {{ slice "héllo" 0 3 }}',
      out: "[b c] [b] [a b c] el [a] hé",
    },
    {
      t: "{{ slice .list 2 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .list 2 1>: error calling slice: invalid slice index: 2 > 1',
    },
    {
      t: "{{ slice .list 1 5 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .list 1 5>: error calling slice: index out of range: 5',
    },
    {
      t: "{{ slice .list .i }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .list .i>: error calling slice: cannot index slice/array with type interface {}',
    },
    {
      t: '{{ slice "abc" 0 1 2 }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice "abc" 0 1 2>: error calling slice: cannot 3-index slice a string',
    },
    {
      t: "{{ slice .n 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .n 1>: error calling slice: can\'t slice item of type float64',
    },
    {
      t: "{{ slice .nul }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .nul>: error calling slice: slice of untyped nil',
    },
    {
      t: "{{ slice .list 1 2 3 4 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <slice .list 1 2 3 4>: error calling slice: too many slice indexes: 4',
    },
  ],
  "comparisons": [
    {
      t: '{{ eq .name "world" }} {{ eq .n 3.0 }} {{ eq .name "a" "b" "world" }} {{ eq 1 1 }} {{ eq .t true }} {{ eq .nul nil }} {{ eq nil nil }} {{ eq .list nil }}',
      out: "true true true true true true true false",
    },
    { t: '{{ ne .name "x" }} {{ ne 1 1 }}', out: "true false" },
    {
      t: '{{ lt 1 2 }} {{ lt .n 4.5 }} {{ lt "a" "b" }} {{ le 2 2 }} {{ gt 3 2 }} {{ ge 1 2 }} {{ gt "b" "a" }} {{ le .f .f }}',
      out: "true true true true true false true true",
    },
    {
      t: '{{ eq (index "a" 0) 97 }} {{ lt 96 (index "a" 0) }} {{ eq (len .list) 3 }}',
      out: "true true true",
    },
    { t: "{{ range .nums }}{{ if gt . 1.5 }}{{ . }}{{ end }}{{ end }}", out: "23" },
    {
      t: "{{ eq .n 3 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .n 3>: error calling eq: incompatible types for comparison: float64 and int',
    },
    {
      t: "{{ eq .n (len .list) }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .n (len .list)>: error calling eq: incompatible types for comparison: float64 and int',
    },
    {
      t: "{{ eq .list .list }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .list .list>: error calling eq: non-comparable type [a b c]: []interface {}',
    },
    {
      t: "{{ eq .obj .obj }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .obj .obj>: error calling eq: non-comparable type map[a:x b:%!s(float64=2) nested:map[k:v]]: map[string]interface {}',
    },
    {
      t: "{{ eq .list .obj }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .list .obj>: error calling eq: non-comparable types [a b c]: []interface {}, map[string]interface {}: map[a:x b:2 nested:map[k:v]]',
    },
    {
      t: "{{ eq .name 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .name 1>: error calling eq: incompatible types for comparison: string and int',
    },
    {
      t: "{{ eq .name }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq .name>: error calling eq: missing argument for comparison',
    },
    {
      t: "{{ eq }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <eq>: wrong number of args for eq: want at least 1 got 0',
    },
    {
      t: "{{ ne .name 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <ne .name 1>: error calling ne: incompatible types for comparison: string and int',
    },
    {
      t: "{{ ne 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <ne>: wrong number of args for ne: want 2 got 1',
    },
    {
      t: "{{ lt .n 4 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <lt .n 4>: error calling lt: incompatible types for comparison: float64 and int',
    },
    {
      t: "{{ lt .t .fl }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <lt .t .fl>: error calling lt: invalid type for comparison',
    },
    {
      t: "{{ lt .list 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <lt .list 1>: error calling lt: invalid type for comparison',
    },
    {
      t: "{{ lt nil 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <lt nil 1>: error calling lt: invalid type for comparison',
    },
    {
      t: "{{ gt .name 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <gt .name 1>: error calling gt: incompatible types for comparison: string and int',
    },
    {
      t: "{{ lt 1 }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <lt>: wrong number of args for lt: want 2 got 1',
    },
  ],
  "print, println, printf": [
    { t: '{{ print "a" "b" 1 2 "c" .t .nul }}', out: "ab1 2ctrue <nil>" },
    {
      t: "{{ print }}|{{ print .list .obj }}|{{ print 1 .name 2 }}",
      out: "|[a b c] map[a:x b:2 nested:map[k:v]]|1world2",
    },
    { t: '{{ println "a" 1 .nul }}', out: "a 1 <nil>\n" },
    { t: "{{ println }}", out: "\n" },
    {
      t: '{{ printf "%d|%5d|%-5d|%05d|%x|%X|%o|%b|%c|%q|%U|%+d|% d" 42 42 42 42 255 255 8 5 65 65 65 42 42 }}',
      out: "42|   42|42   |00042|ff|FF|10|101|A|'A'|U+0041|+42| 42",
    },
    {
      t: '{{ printf "%f|%.2f|%5.2f|%e|%E|%g|%G|%.3g|%v|%8.3f|%-8.2f|%+.1f" .f 3.14159 3.14159 1234.5678 1234.5678 1234.5678 1e-7 3.14159 .big 3.14159 2.5 2.25 }}',
      out:
        "0.500000|3.14| 3.14|1.234568e+03|1.234568E+03|1234.5678|1E-07|3.14|1.655371e+06|   3.142|2.50    |+2.2",
    },
    {
      t: '{{ printf "%s|%q|%v|%x|%X|%10s|%-10s|%.2s|%t" .name .name .name "hi" "hi" .name .name .name .t }}',
      out: 'world|"world"|world|6869|6869|     world|world     |wo|true',
    },
    {
      t: '{{ printf "%.0f %.0f %.0f %.0f %.1f %.2f %.2f" 0.5 1.5 2.5 -0.5 0.25 0.125 2.675 }}',
      out: "0 2 2 -0 0.2 0.12 2.67",
    },
    {
      t: '{{ printf "%6.2f|%06.2f|%+06.2f|% .3e|%#g|%#.3x|%x|%b" 3.14159 3.14159 3.14159 1234.5 1.0 255.0 1.5 1.0 }}',
      out: "  3.14|003.14|+03.14| 1.234e+03|1.00000|0x1.fe0p+07|0x1.8p+00|4503599627370496p-52",
    },
    {
      t: '{{ printf "%e|%g|%g|%g|%v|%v|%.20f" 0.0 100000.0 1000000.0 1e-5 1e20 123456789.0 0.1 }}',
      out: "0.000000e+00|100000|1e+06|1e-05|1e+20|1.23456789e+08|0.10000000000000000555",
    },
    {
      t: '{{ printf "%5t|%-6v|%3c|%-4q|%08s|%8q" true false 65 66 "ab" "ab" }}',
      out: " true|false |  A|'B' |000000ab|    \"ab\"",
    },
    {
      t: '{{ printf "%x|% x|%#x|% #x|%q|%+q|%#q" "héllo" "abc" "abc" "abc" "héllo\\n" "héllo" "abc" }}',
      out: '68c3a96c6c6f|61 62 63|0x616263|0x61 0x62 0x63|"héllo\\n"|"h\\u00e9llo"|`abc`',
    },
    {
      t: '{{ printf "%08.3f|%-08.3f|%08d|%-08d|%+08d|%.3d|%.0d|" -3.14159 3.14159 -42 42 42 7 0 }}',
      out: "-003.142|3.142   |-0000042|42      |+0000042|007||",
    },
    {
      t: '{{ printf "%U|%#U|%x|%X|%o|%c" 0x1F600 0x1F600 -255 -255 -8 -1 }}',
      out: "U+1F600|U+1F600 '😀'|-ff|-FF|-10|�",
    },
    {
      t: '{{ printf "%v|%d|%c|%q|%x|%#v|%s" (index "abc" 0) (index "abc" 0) (index "abc" 0) (index "abc" 0) (index "abc" 0) (index "abc" 0) (index "abc" 0) }}',
      out: "97|97|a|'a'|61|0x61|%!s(uint8=97)",
    },
    {
      t: '{{ printf "%d" .n }}|{{ printf "%s" .nul }}|{{ printf "%v" .nul }}|{{ printf "%z" 1 }}|{{ printf "%p" .name }}',
      out: "%!d(float64=3)|%!s(<nil>)|<nil>|%!z(int=1)|%!p(string=world)",
    },
    {
      t: '{{ printf "%d %s" }}|{{ printf "%d" 1 2 }}|{{ printf "%!" }}|{{ printf "%" }}|{{ printf "%3.1f%%" 99.44 }}',
      out: "%!d(MISSING) %!s(MISSING)|1%!(EXTRA int=2)|%!!(MISSING)|%!(NOVERB)|99.4%",
    },
    {
      t: '{{ printf "%d" .list }}|{{ printf "%s" .nums }}|{{ printf "%v|%s|%q" .list .list .list }}',
      out:
        '[%!d(string=a) %!d(string=b) %!d(string=c)]|[%!s(float64=1) %!s(float64=2) %!s(float64=3)]|[a b c]|[a b c]|["a" "b" "c"]',
    },
    {
      t: '{{ printf "%#v" .obj }}|{{ printf "%#v|%#v|%#v|%#v" .mixed .name .n 1 }}',
      out:
        'map[string]interface {}{"a":"x", "b":2, "nested":map[string]interface {}{"k":"v"}}|[]interface {}{1, "two", interface {}(nil), true, map[string]interface {}{"k":1}}|"world"|3|1',
    },
    {
      t: '{{ printf "%T %T %T %T %T %T %T" .name .n 1 .list .obj .t .nul }}',
      out: "string float64 int []interface {} map[string]interface {} bool <nil>",
    },
    {
      t: '{{ printf "%[2]s %[1]s" "a" "b" }}|{{ printf "%[3]s" "a" }}|{{ printf "%*d|%-*d|%.*f" 5 1 5 2 2 3.14159 }}|{{ printf "%*d" "x" 1 }}',
      out: "b a|%!s(BADINDEX)|    1|2    |3.14|%!(BADWIDTH)1",
    },
    {
      t: '{{ printf "%x|%X|%.2x|%#x|%x|%b" 1.0 3.0 1.0 1.0 0.1 5.0 }}',
      out: "0x1p+00|0X1.8P+01|0x1.00p+00|0x1.0000p+00|0x1.999999999999ap-04|5629499534213120p-50",
    },
    { t: '{{ printf "%w" .list }}', out: "%!w([]interface {}=[a b c])" },
    {
      t: "{{ printf 1 }}",
      err: 'template: interpolate:1:10: executing "interpolate" at <1>: expected string; found 1',
    },
    {
      t: "{{ printf .n }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <.n>: wrong type for value; expected string; got float64',
    },
    {
      t: "{{ printf .nul }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <.nul>: wrong type for value; expected string; got interface {}',
    },
    {
      t: "{{ $n := .nul }}{{ printf $n }}",
      err:
        'template: interpolate:1:26: executing "interpolate" at <$n>: invalid value; expected string',
    },
    {
      t: "{{ printf nil }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <nil>: cannot assign nil to string',
    },
    {
      t: "{{ printf true }}",
      err:
        'template: interpolate:1:10: executing "interpolate" at <true>: expected string; found true',
    },
    {
      t: "{{ printf }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <printf>: wrong number of args for printf: want at least 1 got 0',
    },
    {
      t: "{{ .n | printf }}",
      err:
        'template: interpolate:1:8: executing "interpolate" at <printf>: wrong type for value; expected string; got float64',
    },
  ],
  "html, js, urlquery": [
    {
      t: '{{ html .html }} {{ html "a" 1 }} {{ html .nul }} {{ html "\\u0000" }} {{ html .list }}',
      out: "&lt;a href=&#34;x&#34;&gt;&amp;&#39;&lt;/a&gt; a1 &lt;no value&gt; � [a b c]",
    },
    {
      t: '{{ js .html }} {{ js "a\\nb\\u2028c=d" }} {{ js .quote }} {{ js "\\u0000\\u001f\\u007f" }}',
      out:
        "\\u003Ca href\\u003D\\\"x\\\"\\u003E\\u0026\\'\\u003C/a\\u003E a\\u000Ab\\u2028c\\u003Dd it\\'s \\u0000\\u001F",
    },
    {
      t: '{{ urlquery "a b&c=d/é~" }} {{ urlquery .html }}',
      out: "a+b%26c%3Dd%2F%C3%A9~ %3Ca+href%3D%22x%22%3E%26%27%3C%2Fa%3E",
    },
    { t: "{{ html }}|{{ js }}|{{ urlquery }}", out: "||" },
  ],
  "call": [
    {
      t: "{{ call .name }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <call .name>: error calling call: non-function .name of type string',
    },
    {
      t: "{{ call .nul }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <call .nul>: error calling call: call of nil',
    },
    {
      t: "{{ call }}",
      err:
        'template: interpolate:1:3: executing "interpolate" at <call>: wrong number of args for call: want at least 1 got 0',
    },
    {
      t: "{{ .name | call }}",
      err:
        'template: interpolate:1:11: executing "interpolate" at <call>: error calling call: non-function world of type string',
    },
  ],
  "default": [
    {
      t: '{{ default "fb" .empty }}|{{ default "fb" .name }}|{{ default "fb" .zero }}|{{ default "fb" .fl }}|{{ default "fb" .t }}|{{ default "fb" .elist }}|{{ default "fb" .emap }}|{{ default "fb" .nul }}|{{ default "fb" .list }}|{{ default 5 .empty }}',
      out: "fb|world|0|fb|true|fb|fb|<no value>|[a b c]|5",
    },
    { t: '{{ .empty | default "main" }}', out: "main" },
    { t: '{{ default "d" (index .obj "missing") }}', out: "<no value>" },
    {
      t: '{{ default "x" }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <default>: wrong number of args for default: want 2 got 1',
    },
  ],
  "shellquote": [
    {
      t: "{{ shellquote .quote }} {{ shellquote .name }} {{ shellquote .empty }} {{ shellquote .n }} {{ shellquote .nul }} {{ shellquote .list }}",
      out: "'it'\\''s' 'world' '' '3' '<no value>' '[a b c]'",
    },
    { t: "{{ shellquote \"a'b'c\" }}", out: "'a'\\''b'\\''c'" },
    { t: '{{ shellquote (printf "%s %s" .name .quote) }}', out: "'world it'\\''s'" },
    { t: "{{ default .name .empty | shellquote }}", out: "'world'" },
    {
      t: "git checkout {{ .branch | shellquote }}",
      data: { "branch": "x; rm -rf / #" },
      out: "git checkout 'x; rm -rf / #'",
    },
    {
      t: "echo {{ shellquote .s }}",
      data: { "s": '$HOME `id` "q" \\ \n' },
      out: "echo '$HOME `id` \"q\" \\ \n'",
    },
    {
      t: '{{ shellquote "a" "b" }}',
      err:
        'template: interpolate:1:3: executing "interpolate" at <shellquote>: wrong number of args for shellquote: want 1 got 2',
    },
  ],
};

function render(c: Case): Pick<Case, "out" | "err"> {
  try {
    return { out: renderTemplate(c.t, c.data ?? DATA) };
  } catch (error) {
    if (error instanceof TemplateError) return { err: error.message };
    throw error;
  }
}

for (const [group, cases] of Object.entries(CASES)) {
  Deno.test(`template: ${group}`, () => {
    const mismatches = cases
      .map((c) => ({
        template: c.t,
        got: render(c),
        want: c.err ? { err: c.err } : { out: c.out },
      }))
      .filter(({ got, want }) => got.out !== want.out || got.err !== want.err);
    assertEquals(mismatches, []);
  });
}

Deno.test("template: the table covers every feature group with real cases", () => {
  const all = Object.values(CASES).flat();
  assert(all.length >= 200, `only ${all.length} cases`);
  assert(all.filter((c) => c.err).length >= 100, "too few error cases");
});

Deno.test("template: errors are TemplateErrors, which are PrunnerErrors", () => {
  const error = assertThrows(() => renderTemplate("echo {{ .x }}", {}), TemplateError);
  assert(error instanceof PrunnerError);
  assertEquals(error.name, "TemplateError");
});

Deno.test("template: parseTemplate parses once and renders many times", () => {
  const template = parseTemplate("echo {{ .n }} {{ .branch | shellquote }}");
  assertEquals(template.source, "echo {{ .n }} {{ .branch | shellquote }}");
  assertEquals(template.render({ n: 3, branch: "main" }), "echo 3 'main'");
  assertEquals(template.render({ n: 1655371, branch: "it's" }), "echo 1.655371e+06 'it'\\''s'");
  assertThrows(() => template.render({ n: 1 }), TemplateError, `map has no entry for key "branch"`);
});

Deno.test("template: parse errors are raised by parseTemplate, before any data is seen", () => {
  assertThrows(
    () => parseTemplate("{{ .x | nope }}"),
    TemplateError,
    `template: interpolate:1: function "nope" not defined`,
  );
});

Deno.test("template: rendering does not change the variables", () => {
  const data = { list: ["b", "a"], obj: { z: 1, a: [1, 2] } };
  const before = JSON.stringify(data);
  renderTemplate("{{ range .obj }}{{ . }}{{ end }}{{ slice .list 1 }}{{ index .obj.a 0 }}", data);
  assertEquals(JSON.stringify(data), before);
});

Deno.test("template: define, template, block and complex numbers are refused clearly", () => {
  for (
    const [source, message] of [
      [`{{ define "x" }}a{{ end }}`, "{{define}} is not supported"],
      [`{{ template "x" }}`, "{{template}} is not supported"],
      [`{{ block "x" . }}a{{ end }}`, "{{block}} is not supported"],
      ["{{ 1i }}", "complex number 1i is not supported"],
    ]
  ) {
    assertThrows(() => renderTemplate(source, {}), TemplateError, message);
  }
});

Deno.test("template: deeply nested input fails with a TemplateError, not a crash", () => {
  const depth = 200_000;
  const deep = JSON.parse("[".repeat(depth) + "]".repeat(depth));
  assertThrows(() => renderTemplate("{{ .deep }}", { deep }), TemplateError, "nested too deeply");
  const nestedIfs = "{{ if 1 }}".repeat(depth) + "{{ end }}".repeat(depth);
  assertThrows(() => renderTemplate(nestedIfs, {}), TemplateError, "nested too deeply");
});
