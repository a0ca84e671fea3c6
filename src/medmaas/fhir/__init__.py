"""FHIR R4 in and out: a Bundle of one patient becomes a model's feature row through the
features' ``FhirSource`` mapping, and a prediction goes back as a validated RiskAssessment."""
