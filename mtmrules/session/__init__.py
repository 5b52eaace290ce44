"""The MTM session around the problem list: intake gaps, per-medication review, action plan,
prescriber letter, pharmacist decisions and follow-up."""
