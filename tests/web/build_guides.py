"""Build the real guides the browser tests listen to, in the server's database (speech venv).

Run as `python -m tests.web.build_guides` with the server's environment: the Fujian Assembly
Hall gets English (from the seed's human narration) and French (a person's translation, spoken
by espeak-ng); German is asked for too and stays pending (no vi->de model on a test machine),
so the page shows its fallback. The Cantonese hall, first stop of the assembly halls walk, gets
English too, so the tour plays one guide after another.
"""

from __future__ import annotations

from app.extensions import db
from content.models import Site
from guides import executor, narrations
from wsgi import app

SITE = "fujian-assembly-hall"
SECOND = "cantonese-assembly-hall"
FRENCH = (
    "Vous êtes devant la salle de réunion du Fujian, la plus grande et la plus belle du vieux "
    "quartier de Hội An.\n\n"
    "Les commerçants venus du Fujian l'ont bâtie au dix-huitième siècle pour honorer Thiên Hậu, "
    "la déesse qui protège les marins.\n\n"
    "Levez les yeux vers les grandes spirales d'encens suspendues sous le toit : chacune brûle "
    "pendant des jours et porte une prière."
)


def main() -> None:
    with app.app_context():
        executor.build_guide(SITE, langs=["en", "de"])
        site = narrations.site_by_slug(SITE)
        assert isinstance(site, Site)
        narration = narrations.current_narration(site)
        assert narration is not None
        job = narrations.set_translation(narration_id=narration.id, lang="fr", text=FRENCH)
        job.auto_publish = True
        db.session.commit()
        executor.run_job_here(job_id=job.id)
        # The assembly halls walk starts at the Cantonese hall: two guides in a row to play.
        executor.build_guide(SECOND, langs=["en"])


if __name__ == "__main__":
    main()
