"""Patient profiles: models and input adapters."""

from mtmrules.profile.models import Allergy, Condition, Lab, Medication, Profile

__all__ = ["Allergy", "Condition", "Lab", "Medication", "Profile"]
