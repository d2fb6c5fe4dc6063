/*
 * The notification texts: one row per locale, holding the blocks every mail
 * shares and a subject and intro per kind. {{name}} placeholders are filled
 * by notify_render(); an ISP changes wording here, in one place.
 */
#include "auditd/workflow/notify.h"

#include <string.h>

#define EN_FIX                                                                                     \
	"How to fix it\n"                                                                          \
	"-------------\n"                                                                          \
	"A mail server may pass on mail for other domains only for your own users: your own\n"     \
	"networks or users who log in (SMTP AUTH). Everything else must be refused.\n"             \
	"\n"                                                                                       \
	"* Postfix (main.cf), then \"postfix reload\":\n"                                          \
	"    smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "            \
	"reject_unauth_destination\n"                                                              \
	"    mynetworks = 127.0.0.0/8 [::1]/128   (add only networks you control)\n"               \
	"* Exim: in acl_check_rcpt, accept relaying only for hosts = +relay_from_hosts or\n"       \
	"  authenticated = *, then \"require message = relay not permitted, domains =\n"           \
	"  +local_domains : +relay_to_domains\"; relay_from_hosts lists only your networks.\n"     \
	"* Microsoft Exchange: on receive connectors reachable from the internet, remove the\n"    \
	"  permission ms-Exch-SMTP-Accept-Any-Recipient from \"NT AUTHORITY\\ANONYMOUS LOGON\"\n"  \
	"  (Get-ReceiveConnector | Get-ADPermission shows it).\n"                                  \
	"* Other servers: allow relaying only for authenticated users and your own addresses,\n"   \
	"  never for \"any host\", and check that no test or backup configuration reopens it.\n"

#define EN_FLUSH                                                                                   \
	"Empty your mail queue first\n"                                                            \
	"---------------------------\n"                                                            \
	"Spammers may already have queued mail on your server. Delete it before you ask for a\n"   \
	"re-test, or it will be sent as soon as the block is lifted and your address will be\n"    \
	"listed again.\n"                                                                          \
	"* Postfix: postqueue -p to look, postsuper -d ALL to delete the queue\n"                  \
	"* Exim: exim -bp to look, exiqgrep -i | xargs exim -Mrm to delete\n"                      \
	"* Exchange: Get-Queue | Get-Message, then Remove-Message -WithNDR $false\n"

#define NL_FIX                                                                                     \
	"Zo lost u het op\n"                                                                       \
	"----------------\n"                                                                       \
	"Een mailserver mag mail voor andere domeinen alleen doorsturen voor uw eigen\n"           \
	"gebruikers: uw eigen netwerken of gebruikers die inloggen (SMTP AUTH). Al het\n"          \
	"andere moet worden geweigerd.\n"                                                          \
	"\n"                                                                                       \
	"* Postfix (main.cf), daarna \"postfix reload\":\n"                                        \
	"    smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "            \
	"reject_unauth_destination\n"                                                              \
	"    mynetworks = 127.0.0.0/8 [::1]/128   (voeg alleen eigen netwerken toe)\n"             \
	"* Exim: sta in acl_check_rcpt relaying alleen toe voor hosts = +relay_from_hosts of\n"    \
	"  authenticated = *; relay_from_hosts bevat alleen uw eigen netwerken.\n"                 \
	"* Microsoft Exchange: verwijder op receive connectors die vanaf internet bereikbaar\n"    \
	"  zijn het recht ms-Exch-SMTP-Accept-Any-Recipient voor\n"                                \
	"  \"NT AUTHORITY\\ANONYMOUS LOGON\" (zichtbaar met Get-ReceiveConnector | "               \
	"Get-ADPermission).\n"                                                                     \
	"* Andere servers: sta relaying alleen toe voor ingelogde gebruikers en uw eigen\n"        \
	"  adressen, nooit voor \"elke host\".\n"

#define NL_FLUSH                                                                                   \
	"Maak eerst uw mailwachtrij leeg\n"                                                        \
	"-------------------------------\n"                                                        \
	"Spammers kunnen al mail in de wachtrij van uw server hebben gezet. Verwijder die\n"       \
	"voordat u om een nieuwe test vraagt; anders wordt die verstuurd zodra de blokkade\n"      \
	"is opgeheven en komt uw adres opnieuw op zwarte lijsten.\n"                               \
	"* Postfix: postqueue -p om te bekijken, postsuper -d ALL om te verwijderen\n"             \
	"* Exim: exim -bp om te bekijken, exiqgrep -i | xargs exim -Mrm om te verwijderen\n"       \
	"* Exchange: Get-Queue | Get-Message, daarna Remove-Message -WithNDR $false\n"

#define DE_FIX                                                                                     \
	"So beheben Sie das Problem\n"                                                             \
	"--------------------------\n"                                                             \
	"Ein Mailserver darf Mail an fremde Domains nur für Ihre eigenen Benutzer\n"              \
	"weiterleiten: Ihre eigenen Netze oder angemeldete Benutzer (SMTP AUTH). Alles andere\n"   \
	"muss abgewiesen werden.\n"                                                                \
	"\n"                                                                                       \
	"* Postfix (main.cf), danach \"postfix reload\":\n"                                        \
	"    smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, "            \
	"reject_unauth_destination\n"                                                              \
	"    mynetworks = 127.0.0.0/8 [::1]/128   (nur eigene Netze hinzufügen)\n"                \
	"* Exim: in acl_check_rcpt Relaying nur für hosts = +relay_from_hosts oder\n"             \
	"  authenticated = * erlauben; relay_from_hosts enthält nur Ihre eigenen Netze.\n"        \
	"* Microsoft Exchange: auf vom Internet erreichbaren Empfangsconnectors das Recht\n"       \
	"  ms-Exch-SMTP-Accept-Any-Recipient für \"NT AUTHORITY\\ANONYMOUS LOGON\" entfernen\n"   \
	"  (anzeigen mit Get-ReceiveConnector | Get-ADPermission).\n"                              \
	"* Andere Server: Relaying nur für angemeldete Benutzer und Ihre eigenen Adressen\n"      \
	"  erlauben, niemals für \"jeden Host\".\n"

#define DE_FLUSH                                                                                   \
	"Leeren Sie zuerst Ihre Mail-Warteschlange\n"                                              \
	"-----------------------------------------\n"                                              \
	"Spammer haben womöglich schon Mail in die Warteschlange Ihres Servers gestellt.\n"       \
	"Löschen Sie diese, bevor Sie einen erneuten Test anfordern; sonst wird sie versandt,\n"  \
	"sobald die Sperre aufgehoben ist, und Ihre Adresse landet wieder auf Sperrlisten.\n"      \
	"* Postfix: postqueue -p zum Ansehen, postsuper -d ALL zum Löschen\n"                     \
	"* Exim: exim -bp zum Ansehen, exiqgrep -i | xargs exim -Mrm zum Löschen\n"               \
	"* Exchange: Get-Queue | Get-Message, danach Remove-Message -WithNDR $false\n"

static const struct notify_locale templates[] = {
    {
        .locale = "en",
        .greeting = "Dear customer{{name}},\n",
        .evidence = "What we found\n"
                    "-------------\n"
                    "  Address: {{address}}{{port}}\n"
                    "  Time:    {{time}}\n"
                    "  Test:    {{trick}}\n"
                    "  Case:    #{{case}}\n"
                    "\n"
                    "Short transcript of the test (C: our test client, S: your server):\n"
                    "{{transcript}}",
        .fix = EN_FIX,
        .flush = EN_FLUSH,
        .link = "Ask for a re-test\n"
                "-----------------\n"
                "When the server is fixed and its queue is empty, open this link to have it\n"
                "tested again at once:\n"
                "\n"
                "  {{link}}\n"
                "\n"
                "The link is valid until {{expires}}; a re-test can be asked for once every\n"
                "{{interval}} minutes.\n",
        .signature = "Kind regards,\n"
                     "The abuse desk <{{from}}>\n"
                     "\n"
                     "This message was sent automatically for case #{{case}}. Replies reach the "
                     "abuse desk.\n",
        .mode_text = {"incoming connections to port 25 (SMTP) of this address",
                      "this address's use of our mail relay (smarthost)"},
        .unblocked_note = "The block on {{mode}} has been lifted.",
        .still_blocked = "The block on {{mode}} stays in place.",
        .no_transcript = "  (no transcript: the case was opened on a complaint)\n",
        .kinds =
            {
                [WF_MAIL_RELAY_BLOCKED] =
                    {"Open mail relay at {{address}}: blocked (case #{{case}})",
                     "Our audit found that your mail server at {{address}} is an open relay:\n"
                     "it accepted a test message from outside your network for an outside\n"
                     "recipient and delivered it. Spammers find and abuse such servers within\n"
                     "hours. To protect you and our network we have blocked {{mode}} until the\n"
                     "problem is fixed.\n"},
                [WF_MAIL_SUSPICIOUS] =
                    {"Possible open mail relay at {{address}} (case #{{case}})",
                     "Your mail server at {{address}} accepted a test message from outside your\n"
                     "network for an outside recipient. It has not delivered it, but a server\n"
                     "that accepts such mail is often an open relay. Please check its\n"
                     "configuration. We will test it again soon; nothing is blocked now.\n"},
                [WF_MAIL_BACKSCATTER] =
                    {"Your mail server at {{address}} sends backscatter (case #{{case}})",
                     "Your mail server at {{address}} accepted mail for a user that does not\n"
                     "exist and then sent a bounce to the (forged) sender. Spammers abuse this to\n"
                     "deliver spam as bounces (\"backscatter\"). Reject unknown recipients during\n"
                     "the SMTP dialogue instead of bouncing later (Postfix:\n"
                     "smtpd_reject_unlisted_recipient = yes; Exchange: recipient filtering).\n"
                     "Nothing is blocked now; we will test it again soon.\n"},
                [WF_MAIL_COMPLAINT_BLOCKED] =
                    {"Spam complaint about {{address}}: blocked (case #{{case}})",
                     "We received a complaint about spam sent from your address {{address}}. To\n"
                     "stop further abuse we have blocked {{mode}} at once. We are testing your\n"
                     "mail server now. Common causes are an open relay, a mail account whose\n"
                     "password was stolen, or an infected computer.\n"},
                [WF_MAIL_REMINDER] =
                    {"Reminder: mail server at {{address}} still needs attention (case #{{case}})",
                     "On {{opened}} we told you about a problem with your mail server at\n"
                     "{{address}}. We have not seen a clean test since. Please fix it and ask for\n"
                     "a re-test.\n"},
                [WF_MAIL_ESCALATION] =
                    {"Open mail relay at {{address}}: escalated (case #{{case}})",
                     "The problem with your mail server at {{address}}, reported on {{opened}}, "
                     "is\n"
                     "still not fixed, so the case has been escalated and further measures may be\n"
                     "taken on your connection. Please fix it now and contact us.\n"},
                [WF_MAIL_STILL_OPEN] =
                    {"Re-test of {{address}}: the problem is still there (case #{{case}})",
                     "The re-test of your mail server at {{address}} found the problem still\n"
                     "present. {{block_note}}\n"},
                [WF_MAIL_RESOLVED] =
                    {"Re-test of {{address}} passed: case #{{case}} resolved",
                     "The re-test found your mail server at {{address}} fixed, and case #{{case}}\n"
                     "is resolved. {{unblock_note}} Thank you for your quick help.\n"},
            },
    },
    {
        .locale = "nl",
        .greeting = "Beste klant{{name}},\n",
        .evidence = "Wat we vonden\n"
                    "-------------\n"
                    "  Adres:   {{address}}{{port}}\n"
                    "  Tijd:    {{time}}\n"
                    "  Test:    {{trick}}\n"
                    "  Zaak:    #{{case}}\n"
                    "\n"
                    "Kort verslag van de test (C: onze testclient, S: uw server):\n"
                    "{{transcript}}",
        .fix = NL_FIX,
        .flush = NL_FLUSH,
        .link = "Vraag een nieuwe test aan\n"
                "-------------------------\n"
                "Is de server gerepareerd en de wachtrij leeg, open dan deze link om hem meteen\n"
                "opnieuw te laten testen:\n"
                "\n"
                "  {{link}}\n"
                "\n"
                "De link is geldig tot {{expires}}; u kunt eens per {{interval}} minuten een\n"
                "nieuwe test aanvragen.\n",
        .signature =
            "Met vriendelijke groet,\n"
            "De abuse-afdeling <{{from}}>\n"
            "\n"
            "Dit bericht is automatisch verstuurd voor zaak #{{case}}. Antwoorden komen bij "
            "de abuse-afdeling terecht.\n",
        .mode_text = {"inkomende verbindingen naar poort 25 (SMTP) van dit adres",
                      "het gebruik van onze mailserver (smarthost) door dit adres"},
        .unblocked_note = "De blokkade van {{mode}} is opgeheven.",
        .still_blocked = "De blokkade van {{mode}} blijft van kracht.",
        .no_transcript = "  (geen verslag: de zaak is geopend na een klacht)\n",
        .kinds =
            {
                [WF_MAIL_RELAY_BLOCKED] =
                    {"Open mailrelay op {{address}}: geblokkeerd (zaak #{{case}})",
                     "Onze controle heeft vastgesteld dat uw mailserver op {{address}} een open\n"
                     "relay is: hij nam een testbericht van buiten uw netwerk aan voor een "
                     "externe\n"
                     "ontvanger en bezorgde het. Spammers vinden en misbruiken zulke servers "
                     "binnen\n"
                     "enkele uren. Om u en ons netwerk te beschermen hebben we {{mode}} "
                     "geblokkeerd\n"
                     "tot het probleem is opgelost.\n"},
                [WF_MAIL_SUSPICIOUS] =
                    {"Mogelijk open mailrelay op {{address}} (zaak #{{case}})",
                     "Uw mailserver op {{address}} nam een testbericht van buiten uw netwerk aan\n"
                     "voor een externe ontvanger. Het is niet bezorgd, maar een server die zulke\n"
                     "mail aanneemt is vaak een open relay. Controleer de instellingen. We testen\n"
                     "binnenkort opnieuw; er is nu niets geblokkeerd.\n"},
                [WF_MAIL_BACKSCATTER] =
                    {"Uw mailserver op {{address}} verstuurt backscatter (zaak #{{case}})",
                     "Uw mailserver op {{address}} nam mail aan voor een gebruiker die niet "
                     "bestaat\n"
                     "en stuurde daarna een foutmelding naar de (vervalste) afzender. Spammers\n"
                     "misbruiken dit (\"backscatter\"). Weiger onbekende ontvangers tijdens de\n"
                     "SMTP-dialoog (Postfix: smtpd_reject_unlisted_recipient = yes; Exchange:\n"
                     "recipient filtering). Er is nu niets geblokkeerd; we testen binnenkort "
                     "opnieuw.\n"},
                [WF_MAIL_COMPLAINT_BLOCKED] =
                    {"Spamklacht over {{address}}: geblokkeerd (zaak #{{case}})",
                     "We kregen een klacht over spam vanaf uw adres {{address}}. Om verder "
                     "misbruik\n"
                     "te stoppen hebben we {{mode}} meteen geblokkeerd. We testen uw mailserver "
                     "nu.\n"
                     "Veelvoorkomende oorzaken: een open relay, een mailaccount waarvan het\n"
                     "wachtwoord is gestolen, of een besmette computer.\n"},
                [WF_MAIL_REMINDER] =
                    {"Herinnering: mailserver op {{address}} vraagt nog aandacht (zaak #{{case}})",
                     "Op {{opened}} meldden we een probleem met uw mailserver op {{address}}. "
                     "Sinds\n"
                     "dien hebben we geen schone test gezien. Los het op en vraag een nieuwe test "
                     "aan.\n"},
                [WF_MAIL_ESCALATION] =
                    {"Open mailrelay op {{address}}: geëscaleerd (zaak #{{case}})",
                     "Het probleem met uw mailserver op {{address}}, gemeld op {{opened}}, is nog\n"
                     "niet opgelost. De zaak is daarom geëscaleerd en er kunnen verdere "
                     "maatregelen\n"
                     "op uw aansluiting volgen. Los het nu op en neem contact met ons op.\n"},
                [WF_MAIL_STILL_OPEN] =
                    {"Nieuwe test van {{address}}: het probleem bestaat nog (zaak #{{case}})",
                     "De nieuwe test van uw mailserver op {{address}} toont dat het probleem nog\n"
                     "bestaat. {{block_note}}\n"},
                [WF_MAIL_RESOLVED] =
                    {"Nieuwe test van {{address}} geslaagd: zaak #{{case}} opgelost",
                     "De nieuwe test toont dat uw mailserver op {{address}} in orde is; zaak\n"
                     "#{{case}} is opgelost. {{unblock_note}} Dank voor uw snelle hulp.\n"},
            },
    },
    {
        .locale = "de",
        .greeting = "Sehr geehrte Kundin, sehr geehrter Kunde{{name}},\n",
        .evidence = "Was wir festgestellt haben\n"
                    "--------------------------\n"
                    "  Adresse: {{address}}{{port}}\n"
                    "  Zeit:    {{time}}\n"
                    "  Test:    {{trick}}\n"
                    "  Fall:    #{{case}}\n"
                    "\n"
                    "Kurzes Protokoll des Tests (C: unser Testclient, S: Ihr Server):\n"
                    "{{transcript}}",
        .fix = DE_FIX,
        .flush = DE_FLUSH,
        .link = "Erneuten Test anfordern\n"
                "-----------------------\n"
                "Wenn der Server repariert und die Warteschlange leer ist, öffnen Sie diesen\n"
                "Link, um ihn sofort erneut testen zu lassen:\n"
                "\n"
                "  {{link}}\n"
                "\n"
                "Der Link gilt bis {{expires}}; ein erneuter Test kann einmal alle {{interval}}\n"
                "Minuten angefordert werden.\n",
        .signature = "Mit freundlichen Grüßen\n"
                     "Ihre Abuse-Abteilung <{{from}}>\n"
                     "\n"
                     "Diese Nachricht wurde automatisch für Fall #{{case}} versandt. Antworten "
                     "erreichen die Abuse-Abteilung.\n",
        .mode_text = {"eingehende Verbindungen auf Port 25 (SMTP) dieser Adresse",
                      "die Nutzung unseres Mailrelays (Smarthost) durch diese Adresse"},
        .unblocked_note = "Die Sperre für {{mode}} wurde aufgehoben.",
        .still_blocked = "Die Sperre für {{mode}} bleibt bestehen.",
        .no_transcript = "  (kein Protokoll: der Fall wurde auf eine Beschwerde hin eröffnet)\n",
        .kinds =
            {
                [WF_MAIL_RELAY_BLOCKED] =
                    {"Offenes Mailrelay auf {{address}}: gesperrt (Fall #{{case}})",
                     "Unsere Prüfung hat ergeben, dass Ihr Mailserver auf {{address}} ein offenes\n"
                     "Relay ist: Er hat eine Testnachricht von außerhalb Ihres Netzes für einen\n"
                     "fremden Empfänger angenommen und zugestellt. Spammer finden und "
                     "missbrauchen\n"
                     "solche Server innerhalb weniger Stunden. Zu Ihrem und unserem Schutz haben "
                     "wir\n"
                     "{{mode}} gesperrt, bis das Problem behoben ist.\n"},
                [WF_MAIL_SUSPICIOUS] =
                    {"Mögliches offenes Mailrelay auf {{address}} (Fall #{{case}})",
                     "Ihr Mailserver auf {{address}} hat eine Testnachricht von außerhalb Ihres\n"
                     "Netzes für einen fremden Empfänger angenommen. Sie wurde nicht zugestellt, "
                     "aber\n"
                     "ein Server, der solche Mail annimmt, ist oft ein offenes Relay. Bitte "
                     "prüfen\n"
                     "Sie die Konfiguration. Wir testen bald erneut; derzeit ist nichts "
                     "gesperrt.\n"},
                [WF_MAIL_BACKSCATTER] =
                    {"Ihr Mailserver auf {{address}} versendet Backscatter (Fall #{{case}})",
                     "Ihr Mailserver auf {{address}} hat Mail für einen nicht existierenden "
                     "Benutzer\n"
                     "angenommen und danach eine Fehlermeldung an den (gefälschten) Absender\n"
                     "geschickt. Spammer missbrauchen das (\"Backscatter\"). Weisen Sie "
                     "unbekannte\n"
                     "Empfänger im SMTP-Dialog ab (Postfix: smtpd_reject_unlisted_recipient = "
                     "yes;\n"
                     "Exchange: Empfängerfilterung). Derzeit ist nichts gesperrt; wir testen bald\n"
                     "erneut.\n"},
                [WF_MAIL_COMPLAINT_BLOCKED] =
                    {"Spam-Beschwerde über {{address}}: gesperrt (Fall #{{case}})",
                     "Wir haben eine Beschwerde über Spam von Ihrer Adresse {{address}} erhalten.\n"
                     "Um weiteren Missbrauch zu verhindern, haben wir {{mode}} sofort gesperrt. "
                     "Wir\n"
                     "testen Ihren Mailserver jetzt. Häufige Ursachen sind ein offenes Relay, ein\n"
                     "Mailkonto mit gestohlenem Passwort oder ein infizierter Rechner.\n"},
                [WF_MAIL_REMINDER] =
                    {"Erinnerung: Mailserver auf {{address}} braucht noch Aufmerksamkeit (Fall "
                     "#{{case}})",
                     "Am {{opened}} haben wir Sie über ein Problem mit Ihrem Mailserver auf\n"
                     "{{address}} informiert. Seitdem haben wir keinen bestandenen Test gesehen.\n"
                     "Bitte beheben Sie es und fordern Sie einen erneuten Test an.\n"},
                [WF_MAIL_ESCALATION] =
                    {"Offenes Mailrelay auf {{address}}: eskaliert (Fall #{{case}})",
                     "Das Problem mit Ihrem Mailserver auf {{address}}, gemeldet am {{opened}}, "
                     "ist\n"
                     "noch nicht behoben. Der Fall wurde daher eskaliert; weitere Maßnahmen an "
                     "Ihrem\n"
                     "Anschluss sind möglich. Bitte beheben Sie es jetzt und kontaktieren Sie "
                     "uns.\n"},
                [WF_MAIL_STILL_OPEN] =
                    {"Erneuter Test von {{address}}: das Problem besteht weiter (Fall #{{case}})",
                     "Der erneute Test Ihres Mailservers auf {{address}} hat ergeben, dass das\n"
                     "Problem weiter besteht. {{block_note}}\n"},
                [WF_MAIL_RESOLVED] =
                    {"Erneuter Test von {{address}} bestanden: Fall #{{case}} gelöst",
                     "Der erneute Test hat ergeben, dass Ihr Mailserver auf {{address}} in "
                     "Ordnung\n"
                     "ist; Fall #{{case}} ist gelöst. {{unblock_note}} Vielen Dank für Ihre "
                     "schnelle\n"
                     "Hilfe.\n"},
            },
    },
};

/* Which blocks follow each kind's intro. */
static const unsigned kind_blocks[WF_MAIL__COUNT] = {
    [WF_MAIL_RELAY_BLOCKED] = NOTIFY_EVIDENCE | NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_SUSPICIOUS] = NOTIFY_EVIDENCE | NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_BACKSCATTER] = NOTIFY_EVIDENCE | NOTIFY_LINK,
    [WF_MAIL_COMPLAINT_BLOCKED] = NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_REMINDER] = NOTIFY_EVIDENCE | NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_ESCALATION] = NOTIFY_EVIDENCE | NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_STILL_OPEN] = NOTIFY_EVIDENCE | NOTIFY_FIX | NOTIFY_FLUSH | NOTIFY_LINK,
    [WF_MAIL_RESOLVED] = 0,
};

const struct notify_locale *
notify_templates(void)
{
	return templates;
}

int
notify_template_count(void)
{
	return (int)(sizeof(templates) / sizeof(templates[0]));
}

const struct notify_locale *
notify_locale_find(const char *want)
{
	/* "de-AT" is served by "de"; anything unknown by the first row (en). */
	for (int i = 0; want != NULL && i < notify_template_count(); i++) {
		size_t n = strlen(templates[i].locale);

		if (strncmp(want, templates[i].locale, n) == 0 &&
		    (want[n] == '\0' || want[n] == '-'))
			return &templates[i];
	}
	return &templates[0];
}

unsigned
notify_kind_blocks(enum wf_mail kind)
{
	return (unsigned)kind < WF_MAIL__COUNT ? kind_blocks[kind] : 0;
}
