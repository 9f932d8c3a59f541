#!/bin/sh
# Install this ReplyDesk folder for the current user (or for everyone with PREFIX=/usr/local):
# the ReplyDesk and replydesk commands, the menu entry, the icons and the AppStream metainfo.
# The folder itself stays where it is; run this again after moving it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
mkdir -p "$prefix/bin" "$prefix/share"
ln -sf "$here/ReplyDesk" "$prefix/bin/ReplyDesk"
ln -sf "$here/ReplyDesk" "$prefix/bin/replydesk"
cp -R "$here/share/." "$prefix/share/"
if command -v update-desktop-database >/dev/null 2>&1; then
    update-desktop-database -q "$prefix/share/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" || true
fi
echo "ReplyDesk installed: run 'ReplyDesk' (make sure $prefix/bin is on your PATH)."
