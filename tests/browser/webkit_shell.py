#!/usr/bin/python3
"""A tiny WebKitGTK browser for WebKitWebDriver, on a persistent profile.

WebKitGTK's MiniBrowser runs automation sessions on an ephemeral data store, so closing it and
starting it again (a phone's browser killed and reopened) would lose IndexedDB, the cache
storage and the service worker. This shell keeps them in --profile=DIR instead. WebKitWebDriver
starts it (`webkitgtk:browserOptions` {"binary": this file, "args": [...]}) with `--automation`
and WEBKIT_INSPECTOR_SERVER set; the shell allows automation on its web context and gives each
session a web view controlled by automation in a phone-sized window.

It trusts one certificate, the suite's own (--certificate=FILE), for 127.0.0.1 only: every
other TLS error still fails, as on a phone.

Run by Debian's /usr/bin/python3 with python3-gi and gir1.2-webkit2-4.1 (not the venv: PyGObject
is not in it). Options:
  --automation            let WebKitWebDriver drive this browser
  --profile=DIR           where the website data and cache live (kept across runs)
  --certificate=FILE      a PEM certificate to accept for --certificate-host
  --certificate-host=H    default 127.0.0.1
  --language=L[,L2...]    Accept-Language and navigator.languages (default en-GB,en)
  --size=WxH              the window's size (default 390x844)
  --enable-feature=NAME   turn on a WebKit feature that WebKitGTK ships off (repeatable), e.g.
                          StorageAPI and StorageAPIEstimate (navigator.storage, on in Safari)
  [URL]                   a page to open when not under automation (for trying it by hand)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gio, GLib, Gtk, WebKit2  # noqa: E402

NAME = "doorstep-webkit-shell"


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=NAME)
    parser.add_argument("--automation", action="store_true")
    parser.add_argument("--profile", required=True)
    parser.add_argument("--certificate")
    parser.add_argument("--certificate-host", default="127.0.0.1")
    parser.add_argument("--language", default="en-GB,en")
    parser.add_argument("--size", default="390x844")
    parser.add_argument("--enable-feature", action="append", default=[])
    parser.add_argument("url", nargs="?")
    # WebKitWebDriver may add options of its own in later versions: ignore what we don't know.
    args, _unknown = parser.parse_known_args(argv)
    return args


class Shell:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.width, self.height = (int(n) for n in args.size.lower().split("x"))
        profile = os.path.abspath(args.profile)
        data, cache = os.path.join(profile, "data"), os.path.join(profile, "cache")
        os.makedirs(data, exist_ok=True)
        os.makedirs(cache, exist_ok=True)
        self.manager = WebKit2.WebsiteDataManager(
            base_data_directory=data, base_cache_directory=cache
        )
        cookies = self.manager.get_cookie_manager()
        cookies.set_persistent_storage(
            os.path.join(data, "cookies.sqlite"), WebKit2.CookiePersistentStorage.SQLITE
        )
        cookies.set_accept_policy(WebKit2.CookieAcceptPolicy.NO_THIRD_PARTY)
        self.context = WebKit2.WebContext(website_data_manager=self.manager)
        self.context.set_preferred_languages(
            [lang.strip() for lang in args.language.split(",") if lang.strip()]
        )
        self.context.set_cache_model(WebKit2.CacheModel.WEB_BROWSER)
        if args.certificate:
            certificate = Gio.TlsCertificate.new_from_file(args.certificate)
            self.context.allow_tls_certificate_for_host(certificate, args.certificate_host)
        self.settings = WebKit2.Settings(
            enable_developer_extras=True,
            enable_write_console_messages_to_stdout=True,
            javascript_can_open_windows_automatically=True,
            enable_html5_local_storage=True,
            enable_html5_database=True,
            enable_page_cache=True,
        )
        if args.enable_feature:
            features = WebKit2.Settings.get_all_features()
            known = {}
            for i in range(features.get_length()):
                feature = features.get(i)
                known[feature.get_identifier()] = feature
            for name in args.enable_feature:
                if name not in known:
                    sys.exit(f"{NAME}: WebKitGTK has no feature {name!r}")
                self.settings.set_feature_enabled(known[name], True)
        self.windows: list[Gtk.Window] = []
        if args.automation:
            self.context.set_automation_allowed(True)
            self.context.connect("automation-started", self.on_automation_started)

    # Automation ------------------------------------------------------------------------------

    def on_automation_started(self, _context, session) -> None:
        info = WebKit2.ApplicationInfo()
        info.set_name(NAME)
        info.set_version(1, 0, 0)
        session.set_application_info(info)
        session.connect("create-web-view", self.on_create_web_view)

    def on_create_web_view(self, _session) -> WebKit2.WebView:
        return self.new_view(automation=True)

    # Views -----------------------------------------------------------------------------------

    def new_view(self, automation: bool, related: WebKit2.WebView | None = None):
        properties = {
            "web_context": self.context,
            "settings": self.settings,
            "is_controlled_by_automation": automation,
        }
        if related is not None:
            properties = {"related_view": related, "is_controlled_by_automation": automation}
        view = WebKit2.WebView(**properties)
        view.connect("create", self.on_create, automation)
        view.connect("close", self.on_close)
        window = Gtk.Window(title=NAME)
        window.set_default_size(self.width, self.height)
        window.add(view)
        window.connect("destroy", self.on_window_destroyed)
        self.windows.append(window)
        window.show_all()
        return view

    def on_create(self, view, _action, automation: bool):
        # window.open() and target=_blank: a new window in the same session and data store.
        return self.new_view(automation, related=view)

    def on_close(self, view) -> None:
        window = view.get_toplevel()
        if isinstance(window, Gtk.Window):
            window.destroy()

    def on_window_destroyed(self, window) -> None:
        if window in self.windows:
            self.windows.remove(window)
        if not self.windows and not self.args.automation:
            Gtk.main_quit()


def main(argv: list[str]) -> int:
    args = parse(argv)
    shell = Shell(args)
    # WebKitWebDriver ends the browser with SIGTERM when the session is deleted: leave the
    # main loop so WebKit shuts its network process down and the profile is written out.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, _quit)
    if not args.automation:
        view = shell.new_view(automation=False)
        view.load_uri(args.url or "about:blank")
    Gtk.main()
    return 0


def _quit() -> bool:
    Gtk.main_quit()
    return GLib.SOURCE_REMOVE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
