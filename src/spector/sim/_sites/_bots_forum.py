"""(d) A data-goods shop in Genesis Market's style selling "bots" (invented victims), and
(e) a discussion forum whose posts embed image and video links (the crawler stays text-only).
"""

from __future__ import annotations

from functools import cached_property
from urllib.parse import unquote

from spector.sim._sites._base import Page, Site, e, moment, pages_of, q
from spector.sim._world import SimListing, SimMember, SimPost, SimThread

__all__ = ["BotShopSite", "ForumSite"]

BOTS_PER_PAGE = 50
THREADS_PER_PAGE = 20
POSTS_PER_PAGE = 10
MEMBERS_PER_PAGE = 50


class BotShopSite(Site):
    family = "bots"

    def render(self, path: str, query: dict[str, str], day: int) -> Page:
        if path == "/":
            body = '<h1>Store</h1><p><a class="bots" href="/bots">Bots</a></p>'
            return self.layout("Store", body, day)
        if path == "/bots":
            return self.bots_page(query, day)
        if path.startswith("/bot/"):
            x = self.index.listing_by_ref.get(path.removeprefix("/bot/"))
            if x is None or not x.start_day <= day < x.end_day:
                return self.not_found(day)
            return self.bot_page(x, day)
        return self.not_found(day)

    def page_count(self, day: int) -> int:
        live = self.index.live_listings(day)
        return 1 + pages_of(len(live), BOTS_PER_PAGE) + len(live)

    def bots_page(self, query: dict[str, str], day: int) -> Page:
        rows = sorted(self.index.live_listings(day), key=lambda x: x.ref)
        total = pages_of(len(rows), BOTS_PER_PAGE)
        page = self.page_number(query, total)
        if page is None:
            return self.not_found(day)
        items = "".join(
            f'<tr class="bot"><td><a class="id" href="/bot/{x.ref}">{x.ref}</a></td>'
            f'<td class="country">{x.extra["country"]}</td><td class="os">{e(x.extra["os"])}</td>'
            f'<td class="cookies">{x.extra["cookies"]}</td><td class="logins">{x.extra["logins"]}</td>'
            f'<td class="price">${x.price_usd}</td></tr>'
            for x in rows[(page - 1) * BOTS_PER_PAGE : page * BOTS_PER_PAGE]
        )
        head = "<tr><th>Bot</th><th>Country</th><th>OS</th><th>Cookies</th><th>Logins</th><th>Price</th></tr>"
        body = f'<h1>Bots</h1><table class="bots">{head}{items}</table>' + self.pager(
            "/bots", page, total
        )
        return self.layout("Bots", body, day)

    def bot_page(self, x: SimListing, day: int) -> Page:
        body = (
            f'<section class="bot" data-ref="{x.ref}"><h1>Bot {x.ref}</h1><dl>'
            f'<dt>Country</dt><dd class="country">{x.extra["country"]}</dd>'
            f'<dt>OS</dt><dd class="os">{e(x.extra["os"])}</dd>'
            f'<dt>Cookies</dt><dd class="cookies">{x.extra["cookies"]}</dd>'
            f'<dt>Saved logins</dt><dd class="logins">{x.extra["logins"]}</dd>'
            f'<dt>Added</dt><dd class="added">{moment(x.start_day):%Y-%m-%d}</dd>'
            f'<dt>Price</dt><dd class="price">${x.price_usd}</dd></dl>'
            "<p>Invented training data: no real person stands behind this record.</p></section>"
        )
        return self.layout(f"Bot {x.ref}", body, day)


class ForumSite(Site):
    family = "forum"

    @cached_property
    def members(self) -> list[SimMember]:
        return [m for m in self.world.members if m.market_id == self.market.market_id]

    @cached_property
    def member_by_name(self) -> dict[str, SimMember]:
        return {m.name: m for m in self.members}

    @cached_property
    def member_by_id(self) -> dict[str, SimMember]:
        return {m.member_id: m for m in self.members}

    @cached_property
    def threads(self) -> list[SimThread]:
        return [t for t in self.world.threads if t.market_id == self.market.market_id]

    @cached_property
    def posts_by_thread(self) -> dict[str, list[SimPost]]:
        out: dict[str, list[SimPost]] = {}
        ids = {t.thread_id for t in self.threads}
        for p in self.world.posts:
            if p.thread_id in ids:
                out.setdefault(p.thread_id, []).append(p)
        return out

    def boards(self, day: int) -> dict[str, list[SimThread]]:
        out: dict[str, list[SimThread]] = {}
        for t in self.threads:
            if t.day <= day:
                out.setdefault(t.board, []).append(t)
        return out

    def visible_posts(self, thread_id: str, day: int) -> list[SimPost]:
        return [p for p in self.posts_by_thread.get(thread_id, []) if p.day <= day]

    def render(self, path: str, query: dict[str, str], day: int) -> Page:
        if path == "/":
            items = "".join(
                f'<li><a class="board" href="/board/{b}">{b}</a> ({len(ts)} threads)</li>'
                for b, ts in sorted(self.boards(day).items())
            )
            body = f'<h1>Boards</h1><ul class="boards">{items}</ul><a class="members" href="/members">Members</a>'
            return self.layout("Forum", body, day)
        if path.startswith("/board/"):
            return self.board_page(path.removeprefix("/board/"), query, day)
        if path.startswith("/thread/"):
            return self.thread_page(path.removeprefix("/thread/"), query, day)
        if path == "/members":
            return self.members_page(query, day)
        if path.startswith("/member/"):
            m = self.member_by_name.get(unquote(path.removeprefix("/member/")))
            if m is None or m.joined_day > day:
                return self.not_found(day)
            return self.member_page(m, day)
        return self.not_found(day)

    def page_count(self, day: int) -> int:
        boards = self.boards(day)
        count = 1 + sum(pages_of(len(ts), THREADS_PER_PAGE) for ts in boards.values())
        for ts in boards.values():
            count += sum(
                pages_of(len(self.visible_posts(t.thread_id, day)), POSTS_PER_PAGE) for t in ts
            )
        members = [m for m in self.members if m.joined_day <= day]
        return count + pages_of(len(members), MEMBERS_PER_PAGE) + len(members)

    def board_page(self, board: str, query: dict[str, str], day: int) -> Page:
        threads = sorted(self.boards(day).get(board, []), key=lambda t: (-t.day, t.thread_id))
        total = pages_of(len(threads), THREADS_PER_PAGE)
        page = self.page_number(query, total)
        if not threads or page is None:
            return self.not_found(day)
        chunk = threads[(page - 1) * THREADS_PER_PAGE : page * THREADS_PER_PAGE]
        items = "".join(
            f'<li><a class="thread" href="/thread/{t.thread_id}">{e(t.title)}</a> '
            f"({len(self.visible_posts(t.thread_id, day))} posts)</li>"
            for t in chunk
        )
        return self.layout(
            board,
            f"<h1>{e(board)}</h1><ul>{items}</ul>" + self.pager(f"/board/{board}", page, total),
            day,
        )

    def thread_page(self, tid: str, query: dict[str, str], day: int) -> Page:
        thread = next((t for t in self.threads if t.thread_id == tid and t.day <= day), None)
        if thread is None:
            return self.not_found(day)
        posts = self.visible_posts(tid, day)
        total = pages_of(len(posts), POSTS_PER_PAGE)
        page = self.page_number(query, total)
        if page is None:
            return self.not_found(day)
        items = []
        for p in posts[(page - 1) * POSTS_PER_PAGE : page * POSTS_PER_PAGE]:
            author = self.member_by_id[p.member_id]
            media = "".join(
                f'<video src="{m}" controls></video>'
                if m.endswith(".mp4")
                else f'<img src="{m}" alt="attachment">'
                for m in p.media
            )
            items.append(
                f'<article class="post" id="{p.post_id}"><a class="author" href="/member/{q(author.name)}">'
                f"{e(author.name)}</a> <time>{moment(p.day):%Y-%m-%d}</time><p>{e(p.text)}</p>{media}</article>"
            )
        crumbs = f'<p class="crumbs"><a class="board" href="/board/{q(thread.board)}">{e(thread.board)}</a></p>'
        body = f"{crumbs}<h1>{e(thread.title)}</h1>{''.join(items)}" + self.pager(
            f"/thread/{tid}", page, total
        )
        return self.layout(thread.title, body, day)

    def members_page(self, query: dict[str, str], day: int) -> Page:
        members = sorted(
            (m for m in self.members if m.joined_day <= day), key=lambda m: m.name.casefold()
        )
        total = pages_of(len(members), MEMBERS_PER_PAGE)
        page = self.page_number(query, total)
        if page is None:
            return self.not_found(day)
        items = "".join(
            f'<li><a class="member" href="/member/{q(m.name)}">{e(m.name)}</a></li>'
            for m in members[(page - 1) * MEMBERS_PER_PAGE : page * MEMBERS_PER_PAGE]
        )
        body = f'<h1>Members ({len(members)})</h1><ul class="members">{items}</ul>' + self.pager(
            "/members", page, total
        )
        return self.layout("Members", body, day)

    def member_page(self, m: SimMember, day: int) -> Page:
        count = sum(
            1
            for ps in self.posts_by_thread.values()
            for p in ps
            if p.member_id == m.member_id and p.day <= day
        )
        body = (
            f'<section class="member"><h1 class="name">{e(m.name)}</h1>'
            f'<p class="joined">Joined {moment(m.joined_day):%Y-%m-%d}</p>'
            f'<p class="posts">Posts: {count}</p></section>'
        )
        return self.layout(m.name, body, day)
