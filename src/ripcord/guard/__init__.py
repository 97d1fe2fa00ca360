"""The change guard: was this intentional?"""
