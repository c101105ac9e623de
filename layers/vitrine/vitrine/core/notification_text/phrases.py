"""What notifications say, in English (the default) and French: one table per language.

Every key exists in both tables (a unit test checks it). ``subject_*`` are the subject lines
(``{id}`` is the listing id, filled last so a long one can be shortened); the others are the e-mail
text's sentences. ``{name}`` fields are filled by :mod:`vitrine.core.reconcile.wording` and
:mod:`vitrine.core.notification_text.email`.
"""

from __future__ import annotations

from collections.abc import Mapping

from vitrine.core.locales import supported_locale

EN: Mapping[str, str] = {
    # Lists, nouns and durations.
    "and": " and ",
    "noun_photo_one": "photo",
    "noun_photo_many": "photos",
    "noun_video_one": "video",
    "noun_video_many": "videos",
    "noun_virtual_tour_one": "virtual tour",
    "noun_virtual_tour_many": "virtual tours",
    "noun_media_one": "media",
    "noun_media_many": "media",
    # Subjects.
    "subject_media_download": "{count} {noun} of listing {{id}} could not be downloaded by {where}",
    "subject_media_processing": "{count} {noun} of listing {{id}} could not be processed by {where}",
    "subject_media_failed": "{count} {noun} of listing {{id}} failed on {where}",
    "subject_media_some": "Some media of listing {{id}} failed on {where}",
    "subject_media_unlocated": "Listing {{id}} has a media problem on {where} that AVIV did not locate",
    "subject_classified_CREATING_FAILED": "Listing {{id}} could not be created on {where}",
    "subject_classified_UPDATING_FAILED": "Listing {{id}} could not be updated on {where}",
    "subject_classified_RECEIVING_FAILED": "Listing {{id}} was not received by {where}",
    "subject_classified_DELETING_FAILED": "Listing {{id}} could not be deleted from {where}",
    "subject_classified_DELETED": "Listing {{id}} was deleted from {where}",
    "subject_classified_other": "Listing {{id}} failed on {where}",
    "subject_stuck": "Listing {{id}} not confirmed by {where} after {duration}",
    "subject_quality_one": "{count} media of listing {{id}} will not show as intended on {where}",
    "subject_quality_many": "{count} media of listing {{id}} will not show as intended on {where}",
    "subject_rejected": "Listing {{id}} was refused by AVIV",
    "subject_rejected_one": "Listing {{id}} was refused by AVIV: 1 error to fix",
    "subject_rejected_many": "Listing {{id}} was refused by AVIV: {count} errors to fix",
    "subject_resolved_sync_rejected": "Resolved: listing {{id}} was accepted by AVIV",
    "subject_resolved_quality_warning": "Resolved: the media of listing {{id}} show as intended on {where}",
    "subject_resolved_media_error": "Resolved: the media of listing {{id}} are online on {where}",
    "subject_resolved_other": "Resolved: listing {{id}} is up to date on {where}",
    # What to do about failed media (AVIV's documented fix, and what vitrine does by itself).
    "fix_download": (
        "Make each URL answer with its file, publicly (no login, firewall, IP allow-list or expired "
        "link). The portal downloads a media again only when its timestamp changes: "
    ),
    "fix_download_by_hand": (
        "once the URL works, give the media a new version in the CRM (or a new URL) and vitrine sends "
        "it with a new timestamp."
    ),
    "fix_download_automatic": (
        "vitrine checks the URL again and re-sends the media with a new timestamp by itself once it "
        "answers, up to {attempts} times; a new version of the media in the CRM does the same at once."
    ),
    "fix_processing": (
        "For a file the portal downloaded but could not process, replace it with a valid image or "
        "video under a new version in the CRM."
    ),
    "fix_unlocated": (
        "Check that every photo and video address of the listing opens its file in a browser without "
        "logging in, then give the media at fault a new version in the CRM so that the portal "
        "downloads it again."
    ),
    "fix_classified": (
        "Check the listing's details in the CRM and save it again; if it keeps failing, contact your "
        "vitrine administrator with the listing number {id}."
    ),
    "fix_stuck": (
        "Nothing to do yet: vitrine keeps checking and tells you when the portal confirms. If it "
        "lasts, contact your vitrine administrator."
    ),
    "fix_rejected": "Correct these fields in the CRM and save the listing: vitrine sends it again.",
    "fix_quality": (
        "vitrine never reorders media: change the order or remove these media in the CRM if this is "
        "not what you want shown."
    ),
    # The e-mail text.
    "greeting": "Hello,",
    "what_to_do": "What to do: {fix}",
    "aviv_says": 'AVIV says: "{words}"',
    "media_online": "The listing is online on {where}; what is missing:",
    "media_label": "{noun} {n}",
    "media_label_titled": '{noun} {n}, "{title}"',
    "media_label_unplaced": "{noun} not found in the listing",
    "media_line": "{label}: {what}.",
    "media_what_DOWNLOADING_FAILED": "the portal could not download the file from its URL",
    "media_what_CREATING_FAILED": "the portal downloaded the file but could not process it (format or size)",
    "media_detail": "{what} ({reason})",
    "reason_answers": "the URL answers {code}",
    "more_items": "... and {count} more: your status page lists them all.",
    "retrying_others_one": (
        "vitrine is also having 1 other {noun} downloaded again by itself: you will hear of it only "
        "if that fails."
    ),
    "retrying_others_many": (
        "vitrine is also having {count} other {noun} downloaded again by itself: you will hear of "
        "them only if that fails."
    ),
    "unlocated_intro": (
        "The listing is online on {where}, but AVIV reports a media problem ({status}) without saying "
        "which media."
    ),
    "classified_intro": "AVIV's status of the listing on {where} is {status}.",
    "stuck_intro": "vitrine sent it on {sent}; AVIV's latest status is {status}.",
    "status_none": "none yet",
    "rejected_intro": (
        "AVIV refused the listing's latest changes: the portals still show what they had, if anything."
    ),
    "rejected_field": "Field {pointer}: {reason}.",
    "quality_intro": (
        "The listing is published as sent, but these media will not show as you probably intend:"
    ),
    "quality_extra_video": "only the first video is shown by the portals",
    "quality_extra_virtual_tour": "only the first virtual tour is shown by the portals",
    "quality_poor_first_picture": (
        "the first photo is the listing's main photo, but this one is a plan, map, logo or energy certificate"
    ),
    "quality_cover_not_first": (
        "marked as the cover photo but not first: the portals show the first photo first"
    ),
    "resolved_intro": "This ends what you were told:",
    "resolved_item": "- {what}, reported on {date}.",
    "resolved_media_error": "media missing on the portals",
    "resolved_classified_error": "the listing not processed by AVIV",
    "resolved_sync_rejected": "the listing refused by AVIV",
    "resolved_stuck": "a send the portal had not confirmed",
    "resolved_quality_warning": "media not shown as intended",
    "resolved_nothing_to_do": "Nothing to do.",
    "page_link": "Your status page (every listing, what fails and what to do):",
    "footer": "vitrine keeps your listings' media in sync with the AVIV portals. Reference: {ref}",
}

FR: Mapping[str, str] = {
    "and": " et ",
    "noun_photo_one": "photo",
    "noun_photo_many": "photos",
    "noun_video_one": "vidéo",
    "noun_video_many": "vidéos",
    "noun_virtual_tour_one": "visite virtuelle",
    "noun_virtual_tour_many": "visites virtuelles",
    "noun_media_one": "média",
    "noun_media_many": "médias",
    "subject_media_download": "Annonce {{id}} : téléchargement impossible pour {count} {noun} sur {where}",
    "subject_media_processing": "Annonce {{id}} : traitement impossible pour {count} {noun} sur {where}",
    "subject_media_failed": "Annonce {{id}} : échec pour {count} {noun} sur {where}",
    "subject_media_some": "Annonce {{id}} : des médias sont en échec sur {where}",
    "subject_media_unlocated": "Annonce {{id}} : problème de média sur {where}, non localisé par AVIV",
    "subject_classified_CREATING_FAILED": "Annonce {{id}} : création impossible sur {where}",
    "subject_classified_UPDATING_FAILED": "Annonce {{id}} : mise à jour impossible sur {where}",
    "subject_classified_RECEIVING_FAILED": "Annonce {{id}} : non reçue par {where}",
    "subject_classified_DELETING_FAILED": "Annonce {{id}} : suppression impossible sur {where}",
    "subject_classified_DELETED": "Annonce {{id}} : supprimée de {where}",
    "subject_classified_other": "Annonce {{id}} : en échec sur {where}",
    "subject_stuck": "Annonce {{id}} : pas de confirmation de {where} après {duration}",
    "subject_quality_one": "Annonce {{id}} : {count} média ne s'affichera pas comme prévu sur {where}",
    "subject_quality_many": "Annonce {{id}} : {count} médias ne s'afficheront pas comme prévu sur {where}",
    "subject_rejected": "Annonce {{id}} refusée par AVIV",
    "subject_rejected_one": "Annonce {{id}} refusée par AVIV : 1 erreur à corriger",
    "subject_rejected_many": "Annonce {{id}} refusée par AVIV : {count} erreurs à corriger",
    "subject_resolved_sync_rejected": "Résolu : annonce {{id}} acceptée par AVIV",
    "subject_resolved_quality_warning": (
        "Résolu : les médias de l'annonce {{id}} s'affichent comme prévu sur {where}"
    ),
    "subject_resolved_media_error": "Résolu : les médias de l'annonce {{id}} sont en ligne sur {where}",
    "subject_resolved_other": "Résolu : l'annonce {{id}} est à jour sur {where}",
    "fix_download": (
        "Faites en sorte que chaque adresse réponde avec son fichier, publiquement (sans connexion, "
        "pare-feu, liste d'adresses IP autorisées ni lien expiré). Le portail ne télécharge à nouveau "
        "un média que lorsque son horodatage change : "
    ),
    "fix_download_by_hand": (
        "une fois l'adresse corrigée, donnez au média une nouvelle version dans votre logiciel (ou une "
        "nouvelle adresse) et vitrine l'envoie avec un nouvel horodatage."
    ),
    "fix_download_automatic": (
        "vitrine vérifie l'adresse à nouveau et renvoie d'elle-même le média avec un nouvel horodatage "
        "dès qu'elle répond, jusqu'à {attempts} fois ; une nouvelle version du média dans votre "
        "logiciel fait de même tout de suite."
    ),
    "fix_processing": (
        "Pour un fichier que le portail a téléchargé sans pouvoir le traiter, remplacez-le par une "
        "image ou une vidéo valide, sous une nouvelle version dans votre logiciel."
    ),
    "fix_unlocated": (
        "Vérifiez que chaque adresse de photo et de vidéo de l'annonce ouvre son fichier dans un "
        "navigateur sans connexion, puis donnez au média en cause une nouvelle version dans votre "
        "logiciel pour que le portail le télécharge à nouveau."
    ),
    "fix_classified": (
        "Vérifiez les informations de l'annonce dans votre logiciel et enregistrez-la à nouveau ; si "
        "l'échec persiste, contactez votre administrateur vitrine avec le numéro d'annonce {id}."
    ),
    "fix_stuck": (
        "Rien à faire pour l'instant : vitrine continue de vérifier et vous prévient quand le portail "
        "confirme. Si cela dure, contactez votre administrateur vitrine."
    ),
    "fix_rejected": (
        "Corrigez ces champs dans votre logiciel et enregistrez l'annonce : vitrine la renverra."
    ),
    "fix_quality": (
        "vitrine ne change jamais l'ordre des médias : modifiez l'ordre ou retirez ces médias dans "
        "votre logiciel si ce n'est pas ce que vous voulez montrer."
    ),
    "greeting": "Bonjour,",
    "what_to_do": "Que faire : {fix}",
    "aviv_says": "AVIV indique : « {words} »",
    "media_online": "L'annonce est en ligne sur {where} ; ce qui manque :",
    "media_label": "{noun} {n}",
    "media_label_titled": "{noun} {n}, « {title} »",
    "media_label_unplaced": "{noun} introuvable dans l'annonce",
    "media_line": "{label} : {what}.",
    "media_what_DOWNLOADING_FAILED": "le portail n'a pas pu télécharger le fichier à cette adresse",
    "media_what_CREATING_FAILED": (
        "le portail a téléchargé le fichier mais n'a pas pu le traiter (format ou taille)"
    ),
    "media_detail": "{what} (vérification de vitrine : {reason})",
    "reason_answers": "l'adresse répond {code}",
    "more_items": "… et {count} autres : votre page de suivi les montre tous.",
    "retrying_others_one": (
        "vitrine relance aussi d'elle-même le téléchargement pour 1 autre {noun} : vous n'en entendrez "
        "parler qu'en cas d'échec."
    ),
    "retrying_others_many": (
        "vitrine relance aussi d'elle-même le téléchargement pour {count} autres {noun} : vous n'en "
        "entendrez parler qu'en cas d'échec."
    ),
    "unlocated_intro": (
        "L'annonce est en ligne sur {where}, mais AVIV signale un problème de média ({status}) sans "
        "dire lequel."
    ),
    "classified_intro": "Le statut AVIV de l'annonce sur {where} est {status}.",
    "stuck_intro": "vitrine l'a envoyée le {sent} ; le dernier statut AVIV est {status}.",
    "status_none": "aucun pour l'instant",
    "rejected_intro": (
        "AVIV a refusé les dernières modifications de l'annonce : les portails montrent toujours ce "
        "qu'ils avaient, le cas échéant."
    ),
    "rejected_field": "Champ {pointer} : {reason}.",
    "quality_intro": (
        "L'annonce est publiée telle qu'envoyée, mais ces médias ne s'afficheront sans doute pas "
        "comme vous le souhaitez :"
    ),
    "quality_extra_video": "seule la première vidéo est affichée par les portails",
    "quality_extra_virtual_tour": "seule la première visite virtuelle est affichée par les portails",
    "quality_poor_first_picture": (
        "la première photo est la photo principale de l'annonce, mais celle-ci est un plan, une "
        "carte, un logo ou un diagnostic"
    ),
    "quality_cover_not_first": (
        "marquée comme photo de couverture mais pas en premier : les portails affichent d'abord la "
        "première photo"
    ),
    "resolved_intro": "Fin de ce qui vous avait été signalé :",
    "resolved_item": "- {what}, signalé le {date}.",
    "resolved_media_error": "médias absents des portails",
    "resolved_classified_error": "annonce non traitée par AVIV",
    "resolved_sync_rejected": "annonce refusée par AVIV",
    "resolved_stuck": "envoi non confirmé par le portail",
    "resolved_quality_warning": "médias mal affichés",
    "resolved_nothing_to_do": "Rien à faire.",
    "page_link": "Votre page de suivi (chaque annonce, ce qui échoue et que faire) :",
    "footer": "vitrine synchronise les médias de vos annonces avec les portails AVIV. Référence : {ref}",
}

PHRASES: Mapping[str, Mapping[str, str]] = {"en": EN, "fr": FR}


def phrases(locale: str | None) -> Mapping[str, str]:
    """The table of ``locale`` (``fr``, ``fr-FR`` → French; anything else → English)."""
    return PHRASES[supported_locale(locale)]
