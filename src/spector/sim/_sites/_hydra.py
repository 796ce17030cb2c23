"""(b) A Russian-language market in Hydra's style: shops, listings by city and district
for dead-drop delivery, prices in roubles written the Russian way ("2 587,00 ₽": a
no-break space between thousands, a decimal comma), reviews with relative Russian dates."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import unquote

from spector.model import category
from spector.sim._sites._base import Page, Site, days_ago, e, moment, pages_of, q
from spector.sim._vocab import CITIES
from spector.sim._world import SimAccount, SimFeedback, SimListing

__all__ = ["HydraSite", "relative_ru", "roubles"]

PER_PAGE = 15
REVIEWS_PER_PAGE = 20
CITY_LIST = sorted(CITIES)


def roubles(price: Decimal) -> str:
    """A price as a Russian shop writes it: "2&nbsp;587,00 ₽" for 2587 (the truth keeps
    the number; only its rendering has separators)."""
    grouped = f"{price:,.2f}".replace(",", "&nbsp;").replace(".", ",")
    return f"{grouped} ₽"


def _plural(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def relative_ru(days: int) -> str:
    if days <= 0:
        return "сегодня"
    if days == 1:
        return "вчера"
    if days < 14:
        return f"{days} {_plural(days, 'день', 'дня', 'дней')} назад"
    if days < 60:
        w = days // 7
        return f"{w} {_plural(w, 'неделю', 'недели', 'недель')} назад"
    m = days // 30
    return f"{m} {_plural(m, 'месяц', 'месяца', 'месяцев')} назад"


def _ru_label(code: str) -> str:
    """The category's Russian name: its first Cyrillic alias in the taxonomy."""
    found = category(code)
    return next((a for a in found.aliases if re.search("[а-яё]", a)), found.label)


class HydraSite(Site):
    family = "hydra"
    lang = "ru"

    def render(self, path: str, query: dict[str, str], day: int) -> Page:
        if path == "/":
            return self.home(day)
        if path.startswith("/city/"):
            return self.city_page(path.removeprefix("/city/"), query, day)
        if path.startswith("/tovar/"):
            x = self.index.listing_by_ref.get(path.removeprefix("/tovar/"))
            if x is None or not x.start_day <= day < x.end_day:
                return self.not_found(day)
            return self.item_page(x, day)
        if path.startswith("/shop/"):
            handle, _, tail = path.removeprefix("/shop/").partition("/")
            shop = self._shop(unquote(handle), day)
            if shop is None:
                return self.not_found(day)
            if tail == "":
                return self.shop_page(shop, day)
            if tail == "otzyvy":
                return self.reviews_page(shop, query, day)
        return self.not_found(day)

    def page_count(self, day: int) -> int:
        live = self.index.live_listings(day)
        count = 1 + len(live)
        for n in range(len(CITY_LIST)):
            in_city = sum(1 for x in live if x.extra["city"] == CITY_LIST[n])
            count += pages_of(in_city, PER_PAGE) if in_city else 0
        for aid in {x.account_id for x in live}:
            count += 1 + pages_of(len(self.index.feedback_for_account(aid, day)), REVIEWS_PER_PAGE)
        return count

    def _shop(self, handle: str, day: int) -> SimAccount | None:
        a = self.index.account_by_handle.get(handle.casefold())
        if a is None or a.handle != handle:
            return None
        return (
            a if any(x.account_id == a.account_id for x in self.index.live_listings(day)) else None
        )

    def home(self, day: int) -> Page:
        live = self.index.live_listings(day)
        items = "".join(
            f'<li><a href="/city/{n + 1}">{e(city)}</a></li>'
            for n, city in enumerate(CITY_LIST)
            if any(x.extra["city"] == city for x in live)
        )
        return self.layout(
            "Главная", f'<h1>Выберите город</h1><ul class="cities">{items}</ul>', day
        )

    def city_page(self, raw: str, query: dict[str, str], day: int) -> Page:
        if not raw.isdigit() or not 1 <= int(raw) <= len(CITY_LIST):
            return self.not_found(day)
        city = CITY_LIST[int(raw) - 1]
        rows = sorted(
            (x for x in self.index.live_listings(day) if x.extra["city"] == city),
            key=lambda x: int(x.ref),
        )
        total = pages_of(len(rows), PER_PAGE)
        page = self.page_number(query, total)
        if not rows or page is None:
            return self.not_found(day)
        items = "".join(self.row(x, day) for x in rows[(page - 1) * PER_PAGE : page * PER_PAGE])
        body = f'<h1>{e(city)}</h1><ul class="tovary">{items}</ul>' + self.pager(
            f"/city/{raw}", page, total
        )
        return self.layout(city, body, day)

    def row(self, x: SimListing, day: int) -> str:
        shop = self.index.account_by_id[x.account_id]
        price, _ = x.shown(day, self.market.currency)
        return (
            f'<li class="tovar"><a class="nazvanie" href="/tovar/{x.ref}">{e(x.title)}</a> '
            f'<span class="rayon">{e(x.extra["district"])}</span> '
            f'<span class="cena">{roubles(price)}</span> '
            f'<a class="magazin" href="/shop/{q(shop.handle)}">{e(shop.handle)}</a></li>'
        )

    def item_page(self, x: SimListing, day: int) -> Page:
        shop = self.index.account_by_id[x.account_id]
        reviews = self.index.feedback_for_listing(x.listing_id, day)[:10]
        price, _ = x.shown(day, self.market.currency)
        body = (
            f'<div class="tovar-card" data-ref="{x.ref}"><h1>{e(x.title)}</h1><table>'
            f'<tr><th>Цена</th><td class="cena">{roubles(price)}</td></tr>'
            f'<tr><th>Категория</th><td class="kategoriya">{e(_ru_label(x.category))}</td></tr>'
            f'<tr><th>Страна</th><td class="strana">Россия</td></tr>'
            f'<tr><th>Город</th><td class="gorod">{e(x.extra["city"])}</td></tr>'
            f'<tr><th>Район</th><td class="rayon">{e(x.extra["district"])}</td></tr>'
            f'<tr><th>Тип клада</th><td class="klad">{e(x.extra["drop"])}</td></tr>'
            f'<tr><th>Магазин</th><td><a class="magazin" href="/shop/{q(shop.handle)}">'
            f"{e(shop.handle)}</a></td></tr></table>"
            f'<h2>Отзывы</h2><ul class="otzyvy">{"".join(self.review(f, day) for f in reviews)}</ul></div>'
        )
        return self.layout(x.title, body, day)

    def review(self, f: SimFeedback, day: int) -> str:
        stars = "★" * f.rating + "☆" * (5 - f.rating)
        return (
            f'<li class="otzyv" data-id="{e(f.feedback_id)}"><span class="ocenka" title="{f.rating}">{stars}</span> '
            f'<span class="tekst">{e(f.text)}</span> <span class="pokupatel">{e(f.buyer_mask)}</span> '
            f'<span class="kogda">{relative_ru(days_ago(day, f))}</span></li>'
        )

    def shop_page(self, a: SimAccount, day: int) -> Page:
        fb = self.index.feedback_for_account(a.account_id, day)
        rating = f"{sum(f.rating for f in fb) / len(fb):.2f}" if fb else "нет"
        live = [x for x in self.index.live_listings(day) if x.account_id == a.account_id]
        key = self.pgp(a)
        body = (
            f'<section class="magazin"><h1 class="nazvanie">{e(a.handle)}</h1>'
            f'<p class="s">На площадке с {moment(a.joined_day):%d.%m.%Y}</p>'
            f'<p class="reiting">Рейтинг: {rating} (отзывов: {len(fb)})</p>'
            f'<p class="prodazhi">Продаж: {self.index.sales_until(a.account_id, day)}</p>'
            f'<div class="opisanie">{e(a.profile_text)}</div>'
            + (f'<pre class="pgp">{e(key)}</pre>' if key else "")
            + f'<ul class="tovary">{"".join(self.row(x, day) for x in live)}</ul>'
            f'<a class="vse-otzyvy" href="/shop/{q(a.handle)}/otzyvy">Все отзывы</a></section>'
        )
        return self.layout(a.handle, body, day)

    def reviews_page(self, a: SimAccount, query: dict[str, str], day: int) -> Page:
        fb = self.index.feedback_for_account(a.account_id, day)
        total = pages_of(len(fb), REVIEWS_PER_PAGE)
        page = self.page_number(query, total)
        if page is None:
            return self.not_found(day)
        chunk = fb[(page - 1) * REVIEWS_PER_PAGE : page * REVIEWS_PER_PAGE]
        items = "".join(self.review_with_item(f, day) for f in chunk)
        body = (
            f'<h1>Отзывы: <a class="magazin" href="/shop/{q(a.handle)}">{e(a.handle)}</a></h1>'
            f'<ul class="otzyvy">{items}</ul>'
            + self.pager(f"/shop/{q(a.handle)}/otzyvy", page, total)
        )
        return self.layout(f"Отзывы {a.handle}", body, day)

    def review_with_item(self, f: SimFeedback, day: int) -> str:
        x = self.index.listing_by_id[f.listing_id]
        live = x.start_day <= day < x.end_day
        item = (
            f'<a class="tovar" href="/tovar/{x.ref}">{e(x.title)}</a>'
            if live
            else f'<span class="tovar">{e(x.title)}</span>'
        )
        return self.review(f, day).replace("</li>", f" {item}</li>")
