"""Gallery of enrolled subjects: consent records, enrolment, the vector index and 1:N identification."""
