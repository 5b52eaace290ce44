"""Knowledge resolution: drugs, classes, conditions, labs, doses and renal function."""

from mtmrules.knowledge.base import KnowledgeBase

__all__ = ["KnowledgeBase"]
