"""Web-hook service: subscriptions to resource events. Public surface: its messages."""

from mgmt.webhook.messages import API_MESSAGES, CreateWebHook, DeleteWebHook, WebHookInventory

__all__ = ["API_MESSAGES", "CreateWebHook", "DeleteWebHook", "WebHookInventory"]
