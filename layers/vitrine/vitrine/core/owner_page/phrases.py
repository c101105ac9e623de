"""The owner status page's words, in English (the default) and French: one table per language.

Every key exists in both tables (a unit test checks it). ``{name}`` fields are filled by the page
after escaping; the phrases themselves are trusted text.
"""

from __future__ import annotations

from collections.abc import Mapping

EN: Mapping[str, str] = {
    "title": "Your listings on the AVIV portals",
    "intro": "Where each of your listings stands on SeLoger and the other AVIV portals, as vitrine knows it.",
    "generated": "Updated {time}. This page is private: do not share its link.",
    "count_one": "1 listing",
    "count_many": "{count} listings",
    "attention_none": "none needs your attention",
    "attention_one": "1 needs your attention",
    "attention_many": "{attention} need your attention",
    "no_listings": "vitrine has no listing for you yet.",
    "not_shown": "{count} more listings are not shown on this page.",
    "listing": "Listing {id}",
    "status": "Status",
    "portals": "Portals",
    "last_sent": "Last sent",
    "pending": "Pending",
    "never": "not yet",
    "nothing_pending": "nothing, up to date",
    "sending_now": "being sent to AVIV now",
    "pending_since": "changes waiting since {since}, to be sent around {due}",
    "pending_since_only": "changes waiting since {since}",
    "aviv_says": "AVIV status: {status}",
    "standing_online": "Online",
    "standing_online_media_errors": "Online, but some media are missing",
    "standing_processing": "Sent, waiting for AVIV to confirm",
    "standing_failed": "Not published: AVIV could not process it",
    "standing_rejected": "Not sent: AVIV refused the listing",
    "standing_withdrawn": "Being withdrawn from the portals",
    "standing_waiting_data": "Waiting for the listing's details from your software",
    "standing_not_sent": "Not sent yet",
    "failing_media": "Media not shown on the portals",
    "photo_n": "photo {n}",
    "media_position": "No. {n}",
    "reason": "Reason",
    "what_to_do": "What to do",
    "open_file": "Open the file",
    "advice_check_url": (
        "Check that this address opens the photo in a browser without logging in, then save the listing "
        "again in your software (or replace the photo)."
    ),
    "advice_replace_file": (
        "The portal could not read this file: replace it with a JPEG or PNG photo of normal size, then "
        "save the listing."
    ),
    "advice_retrying": "Nothing to do yet: vitrine is asking the portal to download it again.",
    "problem": "Problem",
    "advice_failed": (
        "Check the listing's details in your software and save it again; if it keeps failing, contact "
        "your vitrine administrator with the listing number."
    ),
    "advice_stuck": (
        "Nothing to do yet: vitrine keeps checking. If it lasts, contact your vitrine administrator."
    ),
    "refused_fields": "What AVIV refused",
    "advice_rejected": "Correct these fields in your software and save the listing: vitrine sends it again.",
    "warnings": "Advice on the photos",
    "warning_extra_video": "Only the first video is shown by the portals.",
    "warning_extra_virtual_tour": "Only the first virtual tour is shown by the portals.",
    "warning_poor_first_picture": (
        "The first photo is the listing's main photo, but it is a plan, map, logo or energy certificate: "
        "put a photo of the property first."
    ),
    "warning_cover_not_first": (
        "Marked as the cover photo but not first: the portals show the first photo first."
    ),
    "footer": "Sent by vitrine, which keeps your listings' photos in sync with the AVIV portals.",
}

FR: Mapping[str, str] = {
    "title": "Vos annonces sur les portails AVIV",
    "intro": "Où en est chacune de vos annonces sur SeLoger et les autres portails AVIV, selon vitrine.",
    "generated": "Mis à jour le {time}. Cette page est privée : ne partagez pas son lien.",
    "count_one": "1 annonce",
    "count_many": "{count} annonces",
    "attention_none": "aucune ne demande votre attention",
    "attention_one": "1 demande votre attention",
    "attention_many": "{attention} demandent votre attention",
    "no_listings": "vitrine n'a encore aucune annonce pour vous.",
    "not_shown": "{count} autres annonces ne sont pas affichées sur cette page.",
    "listing": "Annonce {id}",
    "status": "Statut",
    "portals": "Portails",
    "last_sent": "Dernier envoi",
    "pending": "En attente",
    "never": "pas encore",
    "nothing_pending": "rien, à jour",
    "sending_now": "envoi à AVIV en cours",
    "pending_since": "modifications en attente depuis le {since}, envoi vers {due}",
    "pending_since_only": "modifications en attente depuis le {since}",
    "aviv_says": "Statut AVIV : {status}",
    "standing_online": "En ligne",
    "standing_online_media_errors": "En ligne, mais des médias manquent",
    "standing_processing": "Envoyée, en attente de confirmation par AVIV",
    "standing_failed": "Non publiée : AVIV n'a pas pu la traiter",
    "standing_rejected": "Non envoyée : AVIV a refusé l'annonce",
    "standing_withdrawn": "En cours de retrait des portails",
    "standing_waiting_data": "En attente des informations de l'annonce depuis votre logiciel",
    "standing_not_sent": "Pas encore envoyée",
    "failing_media": "Médias absents des portails",
    "photo_n": "photo {n}",
    "media_position": "N° {n}",
    "reason": "Motif",
    "what_to_do": "Que faire",
    "open_file": "Ouvrir le fichier",
    "advice_check_url": (
        "Vérifiez que cette adresse ouvre la photo dans un navigateur sans connexion, puis enregistrez à "
        "nouveau l'annonce dans votre logiciel (ou remplacez la photo)."
    ),
    "advice_replace_file": (
        "Le portail n'a pas pu lire ce fichier : remplacez-le par une photo JPEG ou PNG de taille "
        "normale, puis enregistrez l'annonce."
    ),
    "advice_retrying": (
        "Rien à faire pour l'instant : vitrine demande au portail de la télécharger à nouveau."
    ),
    "problem": "Problème",
    "advice_failed": (
        "Vérifiez les informations de l'annonce dans votre logiciel et enregistrez-la à nouveau ; si "
        "l'échec persiste, contactez votre administrateur vitrine avec le numéro de l'annonce."
    ),
    "advice_stuck": (
        "Rien à faire pour l'instant : vitrine continue de vérifier. Si cela dure, contactez votre "
        "administrateur vitrine."
    ),
    "refused_fields": "Ce qu'AVIV a refusé",
    "advice_rejected": (
        "Corrigez ces champs dans votre logiciel et enregistrez l'annonce : vitrine la renverra."
    ),
    "warnings": "Conseils sur les photos",
    "warning_extra_video": "Seule la première vidéo est affichée par les portails.",
    "warning_extra_virtual_tour": "Seule la première visite virtuelle est affichée par les portails.",
    "warning_poor_first_picture": (
        "La première photo est la photo principale de l'annonce, mais c'est un plan, une carte, un logo "
        "ou un diagnostic : mettez d'abord une photo du bien."
    ),
    "warning_cover_not_first": (
        "Marquée comme photo de couverture mais pas en premier : les portails affichent d'abord la "
        "première photo."
    ),
    "footer": "Envoyé par vitrine, qui synchronise les photos de vos annonces avec les portails AVIV.",
}

PHRASES: Mapping[str, Mapping[str, str]] = {"en": EN, "fr": FR}
