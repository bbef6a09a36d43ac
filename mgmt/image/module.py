"""The image service module: images, the AddImage flow, the release of their bits and
the ``image.num`` / ``image.size`` quotas."""

from __future__ import annotations

from collections.abc import Sequence

from mgmt.core.cascade import CASCADE_RELEASES
from mgmt.core.module import PluginParts, ServiceModule
from mgmt.core.plugins import Extension, Plugin
from mgmt.image.errors import STATUSES
from mgmt.image.flows.delete import ImageRelease
from mgmt.image.messages import API_MESSAGES
from mgmt.image.resources import IMAGE, IMAGE_SIZE
from mgmt.image.service import ImageService


class ImagePlugin:
    name = "image"

    def __init__(self, parts: PluginParts) -> None:
        self._release = ImageRelease(parts.agents)

    def extensions(self) -> Sequence[Extension]:
        return [Extension(CASCADE_RELEASES, self._release, type="Image")]


def _plugins(parts: PluginParts) -> Sequence[Plugin]:
    return (ImagePlugin(parts),)


MODULE = ServiceModule(
    "image",
    apis=API_MESSAGES,
    resources=(IMAGE,),
    service=ImageService,
    plugins=_plugins,
    quotas={IMAGE_SIZE.name: IMAGE_SIZE.default},
    error_statuses=STATUSES,
)
