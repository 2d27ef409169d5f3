from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # People join a network because a coordinator registers and invites them.
        return settings.ACCOUNT_ALLOW_SIGNUP
