"""RSS feeds: new funds, and each fund's news."""

from django.contrib.syndication.views import Feed
from django.utils.feedgenerator import Rss201rev2Feed


class _PageFeed(Feed):
    feed_type = Rss201rev2Feed

    def __init__(self, page):
        super().__init__()
        self.page = page

    def get_object(self, request, *args, **kwargs):
        self.request = request
        return self.page

    # Absolute URLs on the host the feed was fetched from (as its atom:link self is), not the
    # Site record's hostname: Wagtail's default "localhost:80" sends dev readers nowhere.
    def link(self, obj):
        return self.request.build_absolute_uri(obj.get_url(self.request))

    def item_link(self, item):
        return self.request.build_absolute_uri(item.get_url(self.request))

    def item_title(self, item):
        return item.title


class NewFundsFeed(_PageFeed):
    """The latest funds published under the fund index."""

    def title(self, obj):
        return "Fundfill: new funds"

    def description(self, obj):
        return "Bounties newly opened on Fundfill."

    def items(self, obj):
        return obj.funds()[:30]

    def item_description(self, item):
        return item.summary

    def item_pubdate(self, item):
        return item.first_published_at


class FundNewsFeed(_PageFeed):
    """News posted under one fund, newest first."""

    def title(self, obj):
        return f"Fundfill: news about {obj.title}"

    def description(self, obj):
        return obj.summary

    def items(self, obj):
        return obj.updates()[:30]

    def item_description(self, item):
        return item.search_description or item.title

    def item_pubdate(self, item):
        return item.first_published_at
