"""`leadrouter demo`: the real service against a sandbox CRM with synthetic leads."""

from sync.demo.main import run_demo

__all__ = ["run_demo"]
