"""Purging: after a commit that can change what some page shows, bump the generation and purge the CDN.

Publishing, unpublishing, moving or deleting a page, a view restriction, a site setting,
a Site or an image: each bumps the one generation (`pagecache.generation`) once its
transaction has committed, so every cached page and memo entry in every process is a miss
at its next request. This process's render memo is dropped at once, before the commit.

A CDN in front (wagtail.contrib.frontend_cache, `WAGTAILFRONTENDCACHE`) is sent the URLs
of the page (with its `get_cached_paths`, the feed), its ancestors, and every live page that
refers to it, found through Wagtail's `ReferenceIndex` (the homepage's `featured_fund` is a
page chooser, so the index knows the homepage shows the fund). No app has to register
anything, and this module imports none of them.
"""

import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from wagtail.contrib.frontend_cache.utils import PurgeBatch, purge_urls_from_cache
from wagtail.contrib.settings.models import BaseGenericSetting, BaseSiteSetting
from wagtail.images import get_image_model
from wagtail.models import Page, PageViewRestriction, ReferenceIndex, Site
from wagtail.signals import page_published, page_unpublished, post_page_move

from pagecache import memo
from pagecache.generation import bump_generation

logger = logging.getLogger(__name__)


def _frontend_cache_enabled():
    return bool(getattr(settings, "WAGTAILFRONTENDCACHE", None))


def pages_referring_to(page):
    """Live pages whose content refers to `page` (a page chooser, a link in rich text), from Wagtail's ReferenceIndex."""
    if page is None or page.pk is None:
        return []
    page_type = ContentType.objects.get_for_model(Page)
    ids = (
        ReferenceIndex.get_references_to(page)
        .filter(base_content_type=page_type)
        .values_list("object_id", flat=True)
    )
    return list(Page.objects.live().filter(pk__in=[int(pk) for pk in ids]).specific())


def cdn_urls(pages):
    """Full URLs a CDN must drop for these pages: each with its feed, its ancestors, and pages referring to it."""
    batch = PurgeBatch()
    for page in pages:
        if page is None:
            continue
        related = [page, *page.get_ancestors().filter(depth__gt=1).specific(), *pages_referring_to(page)]
        for each in related:
            batch.add_page(each)
    return batch.urls


def purge_after_commit(pages=(), *, everything=False):
    """After the current transaction commits: bump the generation and purge the CDN.

    Outside a transaction it runs at once. URLs are worked out now, while the pages (and a
    deleted page's ancestors) can still be read. This process's render memo is dropped at
    once, so its own next request (even inside this transaction) renders afresh.
    """
    memo.forget()
    urls = set()
    if _frontend_cache_enabled():
        try:
            urls = cdn_urls(pages) if not everything else cdn_urls(_site_roots())
        except Exception:
            logger.exception("page cache: could not work out the CDN URLs to purge")

    def purge():
        try:
            bump_generation()
        except Exception:
            logger.exception("page cache: could not bump the generation")
        if urls:
            purge_urls_from_cache(sorted(urls))

    transaction.on_commit(purge)


def _site_roots():
    return [site.root_page for site in Site.objects.select_related("root_page")]


def _page_changed(sender, instance, **kwargs):
    purge_after_commit([instance])


def _page_moved(sender, instance, parent_page_before=None, url_path_before=None, **kwargs):
    pages = [instance, parent_page_before]
    if url_path_before and _frontend_cache_enabled():
        old = type(instance).objects.get(pk=instance.pk)
        old.url_path = url_path_before  # the address a CDN still holds
        pages.append(old)
    purge_after_commit(pages)


def _page_deleted(sender, instance, **kwargs):
    # Multi-table inheritance sends post_delete once per model in the chain: act once per page.
    if not isinstance(instance, Page):
        return
    if ContentType.objects.get_for_id(instance.content_type_id).model_class() is type(instance):
        purge_after_commit([instance])


def _is_default_row(instance) -> bool:
    """A settings row made on first read (`for_request` creates it with defaults) shows nothing new."""
    for field in instance._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        if getattr(instance, field.attname) != field.get_default():
            return False
    return True


def _everything_changed(sender, instance=None, **kwargs):
    purge_after_commit(everything=True)


def _setting_saved(sender, instance, created=False, **kwargs):
    if isinstance(instance, (BaseSiteSetting, BaseGenericSetting)):
        if not (created and _is_default_row(instance)):
            _everything_changed(sender, instance)


def connect_signals():
    """Called once from `PageCacheConfig.ready`."""
    # publish_scheduled publishes and unpublishes through the same actions, so these fire for it too.
    page_published.connect(_page_changed, dispatch_uid="pagecache.published")
    page_unpublished.connect(_page_changed, dispatch_uid="pagecache.unpublished")
    post_page_move.connect(_page_moved, dispatch_uid="pagecache.moved")
    post_delete.connect(_page_deleted, dispatch_uid="pagecache.deleted")
    post_save.connect(_setting_saved, dispatch_uid="pagecache.setting")
    for model in (PageViewRestriction, Site, get_image_model()):
        post_save.connect(_everything_changed, sender=model, dispatch_uid=f"pagecache.save.{model.__name__}")
        post_delete.connect(
            _everything_changed, sender=model, dispatch_uid=f"pagecache.delete.{model.__name__}"
        )
